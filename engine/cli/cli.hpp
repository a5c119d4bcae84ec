#pragma once
// The command-line interface (CLI11). Maps kengine::Error subclasses to exit codes:
// 0 success, 1 error, 2 plan has changes (--detailed-exitcode), 3 apply failed and was rolled
// back cleanly, 4 apply failed and rollback was incomplete.
namespace kengine::cli {
int main(int argc, char** argv);
}
