#include <kengine/cli/cli.hpp>
#include <cstdio>
namespace kengine::cli {
int main(int, char**) { std::puts("kengine " KENGINE_VERSION); return 0; }
}
