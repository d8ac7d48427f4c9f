// OpenBLAS (CBLAS) and LAPACKE, opened with dlopen on first use instead of linked.
//
// Why: OpenBLAS starts its thread pool in a library constructor, before `main`, sized by
// OPENBLAS_NUM_THREADS as it is at that moment; pararnn runs its own workers and calls BLAS from
// inside them, so OpenBLAS's threads only spin on the cores the workers need (measured on a 16-core
// VM: 2.1 cores busy during a 1-thread solve). Linked, the only way to give it 1 thread was for
// the `pararnn` binary to set the variable and re-execute itself (10–15 ms per process, plus
// loading OpenBLAS, LAPACKE, gfortran and quadmath in every process, also when no BLAS call is
// made). Opened here on the first call, after the CLI has set the variable in its own
// environment, neither is paid, and processes that never multiply matrices never load it.
//
// Only the seven entry points the package calls are declared, with OpenBLAS's CBLAS enums and
// LAPACKE's layout constants, so Swift call sites read as with <cblas.h>. Library users get
// OpenBLAS at one thread too (`openblas_set_num_threads(1)` right after loading) unless they set
// OPENBLAS_NUM_THREADS themselves. If the library cannot be opened, the first call prints what
// is missing and aborts (installing `libopenblas0`/`liblapacke` fixes it; `make` does).
#ifndef PARARNN_CBLAS_SHIM_H
#define PARARNN_CBLAS_SHIM_H

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

typedef enum CBLAS_ORDER { CblasRowMajor = 101, CblasColMajor = 102 } CBLAS_ORDER;
typedef enum CBLAS_TRANSPOSE { CblasNoTrans = 111, CblasTrans = 112, CblasConjTrans = 113 } CBLAS_TRANSPOSE;
#define LAPACK_ROW_MAJOR 101
#define LAPACK_COL_MAJOR 102

/// LAPACKE's `lapack_complex_double` (two doubles), opaque to Swift.
struct pararnn_lapack_complex_double;

struct pararnn_blas_api {
    void (*sgemm)(CBLAS_ORDER, CBLAS_TRANSPOSE, CBLAS_TRANSPOSE, int, int, int, float, const float *, int,
                  const float *, int, float, float *, int);
    void (*dgemm)(CBLAS_ORDER, CBLAS_TRANSPOSE, CBLAS_TRANSPOSE, int, int, int, double, const double *, int,
                  const double *, int, double, double *, int);
    void (*sgemv)(CBLAS_ORDER, CBLAS_TRANSPOSE, int, int, float, const float *, int, const float *, int, float,
                  float *, int);
    void (*dgemv)(CBLAS_ORDER, CBLAS_TRANSPOSE, int, int, double, const double *, int, const double *, int,
                  double, double *, int);
    void (*set_num_threads)(int);
    int (*zheevd)(int, char, char, int, struct pararnn_lapack_complex_double *, int, double *);
    int (*dgesv)(int, int, int, double *, int, int *, double *, int);
    const char *missing;
};

/// The one table of this module's import (function-local statics are emitted with the function;
/// a file-scope static in an imported header is not).
static inline struct pararnn_blas_api *pararnn_blas_table(void) {
    static struct pararnn_blas_api api;
    return &api;
}

static inline pthread_once_t *pararnn_blas_once(void) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    return &once;
}

static inline void *pararnn_blas_open(const char *const *names) {
    for (int i = 0; names[i] != NULL; i++) {
        void *handle = dlopen(names[i], RTLD_NOW | RTLD_GLOBAL);
        if (handle != NULL) return handle;
    }
    return NULL;
}

static inline void pararnn_blas_load(void) {
    static const char *const blas[] = {"libopenblas.so.0", "libopenblas.so", NULL};
    static const char *const lapacke[] = {"liblapacke.so.3", "liblapacke.so", NULL};
    struct pararnn_blas_api *t = pararnn_blas_table();
    void *b = pararnn_blas_open(blas);
    if (b == NULL) {
        t->missing = "libopenblas.so.0 (OpenBLAS) could not be opened";
        return;
    }
    *(void **)&t->sgemm = dlsym(b, "cblas_sgemm");
    *(void **)&t->dgemm = dlsym(b, "cblas_dgemm");
    *(void **)&t->sgemv = dlsym(b, "cblas_sgemv");
    *(void **)&t->dgemv = dlsym(b, "cblas_dgemv");
    *(void **)&t->set_num_threads = dlsym(b, "openblas_set_num_threads");
    if (t->sgemm == NULL || t->dgemm == NULL || t->sgemv == NULL || t->dgemv == NULL) {
        t->missing = "libopenblas.so.0 lacks a CBLAS entry point (cblas_sgemm, cblas_dgemm, cblas_sgemv, cblas_dgemv)";
    }
    if (t->set_num_threads != NULL && getenv("OPENBLAS_NUM_THREADS") == NULL) t->set_num_threads(1);
    void *l = pararnn_blas_open(lapacke);
    if (l != NULL) {
        *(void **)&t->zheevd = dlsym(l, "LAPACKE_zheevd");
        *(void **)&t->dgesv = dlsym(l, "LAPACKE_dgesv");
    }
}

/// The loaded table; aborts with a message naming `name` if `entry` (its function) is missing.
#define PARARNN_BLAS(name, field)                                                                    \
    (pthread_once(pararnn_blas_once(), pararnn_blas_load),                                          \
     pararnn_blas_table()->field != NULL ? pararnn_blas_table() : pararnn_blas_missing(name))

static inline struct pararnn_blas_api *pararnn_blas_missing(const char *name) {
    const char *why = pararnn_blas_table()->missing;
    fprintf(stderr, "pararnn: %s is not available: %s\n", name,
            why != NULL ? why : "liblapacke.so.3 (LAPACKE) could not be opened");
    abort();
}

static inline void cblas_sgemm(CBLAS_ORDER order, CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int m, int n, int k,
                               float alpha, const float *a, int lda, const float *b, int ldb, float beta, float *c,
                               int ldc) {
    PARARNN_BLAS("cblas_sgemm", sgemm)
        ->sgemm(order, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

static inline void cblas_dgemm(CBLAS_ORDER order, CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int m, int n, int k,
                               double alpha, const double *a, int lda, const double *b, int ldb, double beta,
                               double *c, int ldc) {
    PARARNN_BLAS("cblas_dgemm", dgemm)
        ->dgemm(order, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

static inline void cblas_sgemv(CBLAS_ORDER order, CBLAS_TRANSPOSE t, int m, int n, float alpha, const float *a,
                               int lda, const float *x, int incx, float beta, float *y, int incy) {
    PARARNN_BLAS("cblas_sgemv", sgemv)
        ->sgemv(order, t, m, n, alpha, a, lda, x, incx, beta, y, incy);
}

static inline void cblas_dgemv(CBLAS_ORDER order, CBLAS_TRANSPOSE t, int m, int n, double alpha, const double *a,
                               int lda, const double *x, int incx, double beta, double *y, int incy) {
    PARARNN_BLAS("cblas_dgemv", dgemv)
        ->dgemv(order, t, m, n, alpha, a, lda, x, incx, beta, y, incy);
}

static inline int LAPACKE_zheevd(int layout, char jobz, char uplo, int n, struct pararnn_lapack_complex_double *a,
                                 int lda, double *w) {
    return PARARNN_BLAS("LAPACKE_zheevd", zheevd)
        ->zheevd(layout, jobz, uplo, n, a, lda, w);
}

static inline int LAPACKE_dgesv(int layout, int n, int nrhs, double *a, int lda, int *ipiv, double *b, int ldb) {
    return PARARNN_BLAS("LAPACKE_dgesv", dgesv)
        ->dgesv(layout, n, nrhs, a, lda, ipiv, b, ldb);
}

#endif
