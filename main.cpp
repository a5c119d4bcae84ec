// kengine entry point: everything lives in engine/cli.
#include <kengine/cli/cli.hpp>

// The kengine binary allocates with jemalloc (CMakeLists.txt), which reads its options from this
// symbol at start-up (http://jemalloc.net/jemalloc.3.html, "malloc_conf"; MALLOC_CONF in the
// environment still overrides it). Pages a phase frees — the profile's Lua tables after render,
// the provider's copy of the state after observe — go back to the system after 1 s instead of
// 10 s, without the intermediate "muzzy" stage, so the next phase does not stack on top of them:
// the 100k-resource plan of bench/ peaks at ~270 MB instead of ~330 MB for the same time.
extern "C" {
// NOLINTNEXTLINE(cppcoreguidelines-avoid-non-const-global-variables)
const char* malloc_conf = "dirty_decay_ms:1000,muzzy_decay_ms:0";
}

int main(int argc, char** argv) { return kengine::cli::main(argc, argv); }
