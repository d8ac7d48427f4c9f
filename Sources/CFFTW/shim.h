// FFTW3 in double (fftw_*) and single (fftwf_*) precision, opened with dlopen on first use
// instead of linked.
//
// Why: only the long-convolution layers (LongConv) and `pararnn bench --groups conv` use FFTW,
// but linked, libfftw3 and libfftw3f were loaded and relocated by every `pararnn` process at
// start-up. Opened here on the first call, a process that never transforms never loads them.
//
// Only the entry points the package calls are declared, with FFTW's documented types
// (`fftw_complex` is two doubles, `fftwf_complex` two floats, plans are opaque pointers) and
// planner flags, so Swift call sites read as with <fftw3.h>. If a library cannot be opened, the
// first call prints what is missing and aborts (installing `libfftw3-dev` fixes it; `make` does).
#ifndef PARARNN_FFTW_SHIM_H
#define PARARNN_FFTW_SHIM_H

#include <dlfcn.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

typedef double fftw_complex[2];
typedef float fftwf_complex[2];
typedef struct fftw_plan_s *fftw_plan;
typedef struct fftwf_plan_s *fftwf_plan;

#define FFTW_MEASURE (0U)
#define FFTW_ESTIMATE (1U << 6)

struct pararnn_fftw_api {
    void *(*malloc_)(size_t);
    void (*free_)(void *);
    double *(*alloc_real)(size_t);
    fftw_complex *(*alloc_complex)(size_t);
    fftw_plan (*plan_r2c)(int, double *, fftw_complex *, unsigned);
    fftw_plan (*plan_c2r)(int, fftw_complex *, double *, unsigned);
    void (*destroy_plan)(fftw_plan);
    void (*execute)(const fftw_plan);
    void (*execute_r2c)(const fftw_plan, double *, fftw_complex *);
    void (*execute_c2r)(const fftw_plan, fftw_complex *, double *);
    void *(*fmalloc)(size_t);
    void (*ffree)(void *);
    float *(*falloc_real)(size_t);
    fftwf_complex *(*falloc_complex)(size_t);
    fftwf_plan (*fplan_r2c)(int, float *, fftwf_complex *, unsigned);
    fftwf_plan (*fplan_c2r)(int, fftwf_complex *, float *, unsigned);
    void (*fdestroy_plan)(fftwf_plan);
    void (*fexecute)(const fftwf_plan);
    void (*fexecute_r2c)(const fftwf_plan, float *, fftwf_complex *);
    void (*fexecute_c2r)(const fftwf_plan, fftwf_complex *, float *);
    const char *missing;
};

/// The one table of this module's import (function-local statics are emitted with the function;
/// a file-scope static in an imported header is not).
static inline struct pararnn_fftw_api *pararnn_fftw_table(void) {
    static struct pararnn_fftw_api api;
    return &api;
}

static inline pthread_once_t *pararnn_fftw_once(void) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    return &once;
}

static inline void *pararnn_fftw_open(const char *soname, const char *plain) {
    void *handle = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
    return handle != NULL ? handle : dlopen(plain, RTLD_NOW | RTLD_LOCAL);
}

static inline void pararnn_fftw_load(void) {
    struct pararnn_fftw_api *t = pararnn_fftw_table();
    void *d = pararnn_fftw_open("libfftw3.so.3", "libfftw3.so");
    void *f = pararnn_fftw_open("libfftw3f.so.3", "libfftw3f.so");
    if (d == NULL || f == NULL) {
        t->missing = d == NULL ? "libfftw3.so.3 (FFTW, double precision) could not be opened"
                               : "libfftw3f.so.3 (FFTW, single precision) could not be opened";
        return;
    }
    *(void **)&t->malloc_ = dlsym(d, "fftw_malloc");
    *(void **)&t->free_ = dlsym(d, "fftw_free");
    *(void **)&t->alloc_real = dlsym(d, "fftw_alloc_real");
    *(void **)&t->alloc_complex = dlsym(d, "fftw_alloc_complex");
    *(void **)&t->plan_r2c = dlsym(d, "fftw_plan_dft_r2c_1d");
    *(void **)&t->plan_c2r = dlsym(d, "fftw_plan_dft_c2r_1d");
    *(void **)&t->destroy_plan = dlsym(d, "fftw_destroy_plan");
    *(void **)&t->execute = dlsym(d, "fftw_execute");
    *(void **)&t->execute_r2c = dlsym(d, "fftw_execute_dft_r2c");
    *(void **)&t->execute_c2r = dlsym(d, "fftw_execute_dft_c2r");
    *(void **)&t->fmalloc = dlsym(f, "fftwf_malloc");
    *(void **)&t->ffree = dlsym(f, "fftwf_free");
    *(void **)&t->falloc_real = dlsym(f, "fftwf_alloc_real");
    *(void **)&t->falloc_complex = dlsym(f, "fftwf_alloc_complex");
    *(void **)&t->fplan_r2c = dlsym(f, "fftwf_plan_dft_r2c_1d");
    *(void **)&t->fplan_c2r = dlsym(f, "fftwf_plan_dft_c2r_1d");
    *(void **)&t->fdestroy_plan = dlsym(f, "fftwf_destroy_plan");
    *(void **)&t->fexecute = dlsym(f, "fftwf_execute");
    *(void **)&t->fexecute_r2c = dlsym(f, "fftwf_execute_dft_r2c");
    *(void **)&t->fexecute_c2r = dlsym(f, "fftwf_execute_dft_c2r");
    void **entries = (void **)t;
    for (size_t i = 0; i < offsetof(struct pararnn_fftw_api, missing) / sizeof(void *); i++) {
        if (entries[i] == NULL) t->missing = "libfftw3/libfftw3f lack an entry point the package calls";
    }
}

/// The loaded table; aborts with a message naming `name` if FFTW is not available.
static inline struct pararnn_fftw_api *pararnn_fftw(const char *name) {
    pthread_once(pararnn_fftw_once(), pararnn_fftw_load);
    struct pararnn_fftw_api *t = pararnn_fftw_table();
    if (t->missing != NULL) {
        fprintf(stderr, "pararnn: %s is not available: %s\n", name, t->missing);
        abort();
    }
    return t;
}

static inline void *fftw_malloc(size_t n) { return pararnn_fftw("fftw_malloc")->malloc_(n); }
static inline void fftw_free(void *p) { pararnn_fftw("fftw_free")->free_(p); }
static inline double *fftw_alloc_real(size_t n) { return pararnn_fftw("fftw_alloc_real")->alloc_real(n); }
static inline fftw_complex *fftw_alloc_complex(size_t n) {
    return pararnn_fftw("fftw_alloc_complex")->alloc_complex(n);
}
static inline fftw_plan fftw_plan_dft_r2c_1d(int n, double *in, fftw_complex *out, unsigned flags) {
    return pararnn_fftw("fftw_plan_dft_r2c_1d")->plan_r2c(n, in, out, flags);
}
static inline fftw_plan fftw_plan_dft_c2r_1d(int n, fftw_complex *in, double *out, unsigned flags) {
    return pararnn_fftw("fftw_plan_dft_c2r_1d")->plan_c2r(n, in, out, flags);
}
static inline void fftw_destroy_plan(fftw_plan p) { pararnn_fftw("fftw_destroy_plan")->destroy_plan(p); }
static inline void fftw_execute(const fftw_plan p) { pararnn_fftw("fftw_execute")->execute(p); }
static inline void fftw_execute_dft_r2c(const fftw_plan p, double *in, fftw_complex *out) {
    pararnn_fftw("fftw_execute_dft_r2c")->execute_r2c(p, in, out);
}
static inline void fftw_execute_dft_c2r(const fftw_plan p, fftw_complex *in, double *out) {
    pararnn_fftw("fftw_execute_dft_c2r")->execute_c2r(p, in, out);
}

static inline void *fftwf_malloc(size_t n) { return pararnn_fftw("fftwf_malloc")->fmalloc(n); }
static inline void fftwf_free(void *p) { pararnn_fftw("fftwf_free")->ffree(p); }
static inline float *fftwf_alloc_real(size_t n) { return pararnn_fftw("fftwf_alloc_real")->falloc_real(n); }
static inline fftwf_complex *fftwf_alloc_complex(size_t n) {
    return pararnn_fftw("fftwf_alloc_complex")->falloc_complex(n);
}
static inline fftwf_plan fftwf_plan_dft_r2c_1d(int n, float *in, fftwf_complex *out, unsigned flags) {
    return pararnn_fftw("fftwf_plan_dft_r2c_1d")->fplan_r2c(n, in, out, flags);
}
static inline fftwf_plan fftwf_plan_dft_c2r_1d(int n, fftwf_complex *in, float *out, unsigned flags) {
    return pararnn_fftw("fftwf_plan_dft_c2r_1d")->fplan_c2r(n, in, out, flags);
}
static inline void fftwf_destroy_plan(fftwf_plan p) { pararnn_fftw("fftwf_destroy_plan")->fdestroy_plan(p); }
static inline void fftwf_execute(const fftwf_plan p) { pararnn_fftw("fftwf_execute")->fexecute(p); }
static inline void fftwf_execute_dft_r2c(const fftwf_plan p, float *in, fftwf_complex *out) {
    pararnn_fftw("fftwf_execute_dft_r2c")->fexecute_r2c(p, in, out);
}
static inline void fftwf_execute_dft_c2r(const fftwf_plan p, fftwf_complex *in, float *out) {
    pararnn_fftw("fftwf_execute_dft_c2r")->fexecute_c2r(p, in, out);
}

#endif
