---@meta
-- luacheck: no unused args
--- kengine.codec — byte-string codecs, digests and random values (C++:
--- engine/lua/mod_codec.cpp, on zlib and OpenSSL 3). All strings are byte strings.
---
--- ```lua
--- local codec = require "kengine.codec"
--- local user_data = codec.base64_encode(codec.gzip(cloud_init))   -- EC2 UserData
--- local token = codec.random_hex(3) .. "." .. codec.random_hex(8)  -- kubeadm token shape
--- ```

---@class kengine.codec
local codec = {}

--- Compress into one gzip member (RFC 1952; deflate RFC 1951, level 9). `gzip -d` reads it.
--- Raises for input over 4 GiB.
---@param data string
---@return string gzip
function codec.gzip(data) end

--- Decompress gzip data (RFC 1952); several concatenated members are decompressed one after
--- the other, as `gzip -d` does. Raises "gunzip: not gzip data (bad magic number)",
--- "gunzip: truncated gzip data", "gunzip: invalid gzip data: <zlib reason>" (including CRC
--- mismatches), "gunzip: trailing garbage after gzip data" and "gunzip: output larger than
--- 1 GiB".
---@param data string
---@return string
function codec.gunzip(data) end

--- Base64 (RFC 4648 §4, standard alphabet, "=" padding, no line breaks).
---@param data string
---@return string
function codec.base64_encode(data) end

--- Decode base64 (RFC 4648 §4). Spaces, tabs and line breaks are ignored; padding is
--- required. Raises "base64_decode: invalid character at offset N", "base64_decode: length
--- is not a multiple of 4 (missing padding?)", "base64_decode: '=' padding in the middle of
--- the data".
---@param text string
---@return string
function codec.base64_decode(text) end

--- SHA-256 (FIPS 180-4) of `data` as 64 lowercase hex digits.
---@param data string
---@return string
function codec.sha256_hex(data) end

--- `nbytes` bytes from OpenSSL's CSPRNG (RAND_bytes) as 2*nbytes lowercase hex digits.
--- Raises unless 1 <= nbytes <= 65536.
---@param nbytes integer  number of random bytes (not hex digits)
---@return string
function codec.random_hex(nbytes) end

--- A random UUID (RFC 9562 §5.4, version 4), lowercase "xxxxxxxx-xxxx-4xxx-[89ab]xxx-xxxxxxxxxxxx".
---@return string
function codec.uuid() end

return codec
