// The version of this build: the project's (CMakeLists.txt) and, when the tree was a git
// checkout at configure time, `git describe` of it: "0.1.0 (git abc1234)".
//
//     if (zkv_version_option (argc, argv, "zkvd"))
//         return 0;   // printed "zkvd 0.1.0 (git abc1234)"
#ifndef ZKV_VERSION_H
#define ZKV_VERSION_H

#include <stdbool.h>

// "0.1.0 (git abc1234)", or "0.1.0" when it was built from no git checkout.
const char *zkv_version (void);
// The project version alone ("0.1.0").
const char *zkv_version_number (void);
// When the first argument is --version: prints "PROGRAM VERSION" on stdout and returns true.
bool zkv_version_option (int argc, char **argv, const char *program);

#endif
