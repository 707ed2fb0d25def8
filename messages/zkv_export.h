// ZKV_EXPORT: marks a function of the client library's public API (installed as zkv/*.h).
//
// The library is built with -fvisibility=hidden (CMakeLists.txt): a function is in its dynamic
// symbol table only if its declaration in a public header starts with ZKV_EXPORT. Everything
// else (the pure core, the config loader, the codec the library absorbs) stays internal, so
// programs cannot come to depend on it. The rule for a new public function: declare it in
// client/zkv_client.h (or messages/zkv_error.h) with ZKV_EXPORT in front; the ctest
// install.check fails when a declared function is not exported or an undeclared one is.
#ifndef ZKV_EXPORT_H
#define ZKV_EXPORT_H

#if defined(__GNUC__) || defined(__clang__)
#define ZKV_EXPORT __attribute__ ((visibility ("default")))
#else
#define ZKV_EXPORT
#endif

#endif
