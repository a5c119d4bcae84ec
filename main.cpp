// kengine entry point: everything lives in engine/cli.
#include <kengine/cli/cli.hpp>

int main(int argc, char** argv) { return kengine::cli::main(argc, argv); }
