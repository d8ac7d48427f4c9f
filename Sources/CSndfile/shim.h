// libsndfile: WAV (PCM 8/16/24/32, float, extensible), FLAC, OGG/Vorbis, AIFF, ...
//
// Opened with dlopen on first use, not linked: libsndfile pulls in FLAC, Ogg, Vorbis, Opus,
// mpg123 and LAME (8 shared libraries in all), which every `pararnn` process loaded and
// relocated at start-up, also when no audio file is involved. Only the header is used at build
// time (types, constants); every call goes through a `pararnn_sf_*` wrapper of a function
// pointer looked up with dlsym. If the library cannot be opened, the open functions return NULL
// and `pararnn_sf_strerror(NULL)` says what is missing (installing `libsndfile1` fixes it).
#ifndef PARARNN_SNDFILE_SHIM_H
#define PARARNN_SNDFILE_SHIM_H

#include <dlfcn.h>
#include <pthread.h>
#include <sndfile.h>
#include <stddef.h>

struct pararnn_sf_api {
    __typeof__(&sf_open) open;
    __typeof__(&sf_open_virtual) open_virtual;
    __typeof__(&sf_close) close;
    __typeof__(&sf_readf_float) readf_float;
    __typeof__(&sf_seek) seek;
    __typeof__(&sf_error) error;
    __typeof__(&sf_strerror) strerror;
    __typeof__(&sf_command) command;
    const char *missing;
};

/// The one table of this module's import (function-local statics are emitted with the function;
/// a file-scope static in an imported header is not).
static inline struct pararnn_sf_api *pararnn_sf_table(void) {
    static struct pararnn_sf_api api;
    return &api;
}

static inline pthread_once_t *pararnn_sf_once(void) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    return &once;
}

static inline void pararnn_sf_load(void) {
    struct pararnn_sf_api *t = pararnn_sf_table();
    void *h = dlopen("libsndfile.so.1", RTLD_NOW | RTLD_LOCAL);
    if (h == NULL) h = dlopen("libsndfile.so", RTLD_NOW | RTLD_LOCAL);
    if (h == NULL) {
        t->missing = "libsndfile.so.1 (libsndfile) could not be opened";
        return;
    }
    *(void **)&t->open = dlsym(h, "sf_open");
    *(void **)&t->open_virtual = dlsym(h, "sf_open_virtual");
    *(void **)&t->close = dlsym(h, "sf_close");
    *(void **)&t->readf_float = dlsym(h, "sf_readf_float");
    *(void **)&t->seek = dlsym(h, "sf_seek");
    *(void **)&t->error = dlsym(h, "sf_error");
    *(void **)&t->strerror = dlsym(h, "sf_strerror");
    *(void **)&t->command = dlsym(h, "sf_command");
    void **entries = (void **)t;
    for (size_t i = 0; i < offsetof(struct pararnn_sf_api, missing) / sizeof(void *); i++) {
        if (entries[i] == NULL) t->missing = "libsndfile.so.1 lacks an entry point the package calls";
    }
}

/// The loaded table (its `missing` says why not, if the library is not available).
static inline struct pararnn_sf_api *pararnn_sf(void) {
    pthread_once(pararnn_sf_once(), pararnn_sf_load);
    return pararnn_sf_table();
}

/// sf_open, or NULL if libsndfile is not available.
static inline SNDFILE *pararnn_sf_open(const char *path, int mode, SF_INFO *info) {
    struct pararnn_sf_api *t = pararnn_sf();
    return t->missing != NULL ? NULL : t->open(path, mode, info);
}

/// sf_open_virtual, or NULL if libsndfile is not available.
static inline SNDFILE *pararnn_sf_open_virtual(SF_VIRTUAL_IO *io, int mode, SF_INFO *info, void *user) {
    struct pararnn_sf_api *t = pararnn_sf();
    return t->missing != NULL ? NULL : t->open_virtual(io, mode, info, user);
}

/// sf_strerror; for `file` NULL with libsndfile missing, what is missing.
static inline const char *pararnn_sf_strerror(SNDFILE *file) {
    struct pararnn_sf_api *t = pararnn_sf();
    return t->missing != NULL ? t->missing : t->strerror(file);
}

// The calls below take a file that a successful open returned (the library is loaded).
static inline int pararnn_sf_close(SNDFILE *file) { return pararnn_sf()->close(file); }
static inline sf_count_t pararnn_sf_readf_float(SNDFILE *file, float *frames, sf_count_t count) {
    return pararnn_sf()->readf_float(file, frames, count);
}
static inline sf_count_t pararnn_sf_seek(SNDFILE *file, sf_count_t frames, int whence) {
    return pararnn_sf()->seek(file, frames, whence);
}
static inline int pararnn_sf_error(SNDFILE *file) { return pararnn_sf()->error(file); }
static inline int pararnn_sf_command(SNDFILE *file, int command, void *data, int size) {
    return pararnn_sf()->command(file, command, data, size);
}

#endif
