// A tiny test runner: tests register in one table; the runner ends with "N passed, N failed".
//
//     static void test_x (void) { CHECK (1 + 1 == 2); CHECK_EQ_U64 (a, b); }
//     ZKV_TEST_MAIN (TEST (test_x) TEST (test_y))
//
// A failed CHECK prints file:line and the expression, marks the test failed and returns.
#ifndef ZKV_TEST_H
#define ZKV_TEST_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int zkv_test_failed_;  // set by a failing check in the running test

#define CHECK(cond)                                                                        \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            fprintf (stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);      \
            zkv_test_failed_ = 1;                                                          \
            return;                                                                        \
        }                                                                                  \
    } while (0)

#define CHECK_EQ_U64(a, b)                                                                 \
    do {                                                                                   \
        uint64_t a_ = (uint64_t) (a), b_ = (uint64_t) (b);                                 \
        if (a_ != b_) {                                                                    \
            fprintf (stderr, "%s:%d: CHECK failed: %s == %s (%" PRIu64 " != %" PRIu64 ")\n", \
                     __FILE__, __LINE__, #a, #b, a_, b_);                                  \
            zkv_test_failed_ = 1;                                                          \
            return;                                                                        \
        }                                                                                  \
    } while (0)

typedef struct {
    const char *name;   // test function name
    void (*fn) (void);  // the test
} zkv_test_case_t;

#define TEST(fn) {#fn, fn},

// Runs every test, or only those named on the command line.
#define ZKV_TEST_MAIN(cases)                                                               \
    int main (int argc, char **argv)                                                       \
    {                                                                                      \
        static const zkv_test_case_t tests_[] = {cases};                                   \
        int passed = 0, failed = 0;                                                        \
        for (size_t i = 0; i < sizeof tests_ / sizeof tests_[0]; i++) {                    \
            int wanted = argc < 2;                                                         \
            for (int a = 1; a < argc; a++)                                                 \
                wanted |= strcmp (argv[a], tests_[i].name) == 0;                           \
            if (!wanted)                                                                   \
                continue;                                                                  \
            zkv_test_failed_ = 0;                                                          \
            tests_[i].fn ();                                                               \
            printf ("%s %s\n", zkv_test_failed_ ? "FAIL" : "ok  ", tests_[i].name);        \
            if (zkv_test_failed_)                                                          \
                failed++;                                                                  \
            else                                                                           \
                passed++;                                                                  \
        }                                                                                  \
        printf ("%d passed, %d failed\n", passed, failed);                                 \
        return failed ? 1 : 0;                                                             \
    }

#endif
