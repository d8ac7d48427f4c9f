// OpenBLAS must not start a thread pool of its own inside `pararnn`: the workers call BLAS and
// parallelise themselves, and idle OpenBLAS threads spin on the cores they need. OpenBLAS sizes
// its pool in its library constructor, before `main`, from OPENBLAS_NUM_THREADS or else from
// the CPUs the process may run on (sched_getaffinity).
//
// An executable's .preinit_array functions run before every shared library's constructors. An
// environment variable set there does not survive (libc's own initialiser resets `environ` to
// the original block afterwards), but the CPU affinity does: the pre-initialiser narrows the
// main thread to one of its allowed CPUs, OpenBLAS then counts one CPU and starts no threads,
// and `main` restores the original mask (pararnn_process_start_finish) before any thread
// exists. This replaces re-executing the binary with the variable set, which cost a second load
// of the binary and its libraries on every run (≈ 10–15 ms on the 16-core VM). A value of
// OPENBLAS_NUM_THREADS the user set is left to OpenBLAS.
#define _GNU_SOURCE
#include "CProcessStart.h"

#include <string.h>

#if defined(__linux__) && defined(__ELF__)
#include <sched.h>

static cpu_set_t saved_mask;
static int start_state = 0;

static void pararnn_process_start(int argc, char **argv, char **envp) {
    (void)argc;
    (void)argv;
    static const char name[] = "OPENBLAS_NUM_THREADS=";
    for (char **entry = envp; entry != NULL && *entry != NULL; ++entry) {
        if (strncmp(*entry, name, sizeof name - 1) == 0) {
            start_state = 2;
            return;
        }
    }
    if (sched_getaffinity(0, sizeof saved_mask, &saved_mask) != 0) return;
    if (CPU_COUNT(&saved_mask) <= 1) {
        start_state = 2;
        return;
    }
    int first = -1;
    for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
        if (CPU_ISSET(cpu, &saved_mask)) {
            first = cpu;
            break;
        }
    }
    if (first < 0) return;
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(first, &one);
    if (sched_setaffinity(0, sizeof one, &one) != 0) return;
    start_state = 1;
}

__attribute__((section(".preinit_array"), used)) static void (*const pararnn_process_start_entry)(
    int, char **, char **) = pararnn_process_start;

int pararnn_process_start_finish(void) {
    if (start_state == 1) sched_setaffinity(0, sizeof saved_mask, &saved_mask);
    return start_state;
}
#else
int pararnn_process_start_finish(void) { return 0; }
#endif
