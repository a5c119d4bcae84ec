// Catch2 (Debian 2.13) entry point for every tests/**/*_test.cpp.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
