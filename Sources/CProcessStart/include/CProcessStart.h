// Process start-up settings of the `pararnn` executable that must be in place before any shared
// library initialises (see process_start.c).
#ifndef PARARNN_CPROCESSSTART_H
#define PARARNN_CPROCESSSTART_H

/// Ends the start-up setting and says what it did: 0 the pre-initialiser did not run or could not
/// act (the caller falls back to its own means), 1 OpenBLAS started single-threaded and the
/// main thread's CPU affinity is restored now, 2 nothing was needed (the user set
/// OPENBLAS_NUM_THREADS, or the process may run on one CPU only). Call once, first thing in
/// `main`, before any thread starts.
int pararnn_process_start_finish(void);

#endif
