// libhdf5 (Debian libhdf5-dev, serial build): HDF5 datasets in and out.
//
// The library is loaded with dlopen on first use (``pararnn_h5_load``), not linked: Debian's
// libhdf5 pulls in libcurl, GnuTLS, Kerberos, LDAP, ... (about 35 shared libraries), whose
// loading and constructors cost every `pararnn` process about 20 ms at start-up (measured: an
// empty C program 3 ms → 23 ms when linked with -lhdf5 on the 2-core build VM), also when no
// HDF5 file is involved. Only the headers are used at build time (types, enum constants); every
// call goes through ``pararnn_H5...`` wrappers of function pointers looked up with dlsym, and
// HDF5's constant macros (H5T_NATIVE_DOUBLE, H5P_DEFAULT, ...) become ``pararnn_h5_table()->..`` functions.
// The soname matches the headers' version (1.10: .so.103, 1.12: .so.200, 1.14: .so.310).
#if __has_include(<hdf5/serial/hdf5.h>)
#include <hdf5/serial/hdf5.h>
#else
#include <hdf5.h>
#endif
#include <dlfcn.h>
#include <stddef.h>

#define PARARNN_H5_STR(x) #x
#define PARARNN_H5_XSTR(x) PARARNN_H5_STR(x)
#if H5_VERS_MAJOR == 1 && H5_VERS_MINOR == 10
#define PARARNN_H5_SOVERSION ".103"
#elif H5_VERS_MAJOR == 1 && H5_VERS_MINOR == 12
#define PARARNN_H5_SOVERSION ".200"
#elif H5_VERS_MAJOR == 1 && H5_VERS_MINOR == 14
#define PARARNN_H5_SOVERSION ".310"
#else
#define PARARNN_H5_SOVERSION ""
#endif

struct pararnn_h5_api {
    int state;  /* 0: not tried, 1: loaded, -1: failed */
    const char *failure;
    __typeof__(&H5open) f_H5open;
    __typeof__(&H5Fis_hdf5) f_H5Fis_hdf5;
    __typeof__(&H5Fopen) f_H5Fopen;
    __typeof__(&H5Fcreate) f_H5Fcreate;
    __typeof__(&H5Fclose) f_H5Fclose;
    __typeof__(&H5Fflush) f_H5Fflush;
    __typeof__(&H5Fget_file_image) f_H5Fget_file_image;
    __typeof__(&H5Pcreate) f_H5Pcreate;
    __typeof__(&H5Pclose) f_H5Pclose;
    __typeof__(&H5Pset_fapl_core) f_H5Pset_fapl_core;
    __typeof__(&H5Pset_file_image) f_H5Pset_file_image;
    __typeof__(&H5Pset_create_intermediate_group) f_H5Pset_create_intermediate_group;
    __typeof__(&H5Pset_chunk) f_H5Pset_chunk;
    __typeof__(&H5Pset_deflate) f_H5Pset_deflate;
    __typeof__(&H5Screate) f_H5Screate;
    __typeof__(&H5Screate_simple) f_H5Screate_simple;
    __typeof__(&H5Sclose) f_H5Sclose;
    __typeof__(&H5Sget_simple_extent_ndims) f_H5Sget_simple_extent_ndims;
    __typeof__(&H5Sget_simple_extent_dims) f_H5Sget_simple_extent_dims;
    __typeof__(&H5Sget_simple_extent_type) f_H5Sget_simple_extent_type;
    __typeof__(&H5Dcreate2) f_H5Dcreate2;
    __typeof__(&H5Dopen2) f_H5Dopen2;
    __typeof__(&H5Dclose) f_H5Dclose;
    __typeof__(&H5Dwrite) f_H5Dwrite;
    __typeof__(&H5Dread) f_H5Dread;
    __typeof__(&H5Dget_type) f_H5Dget_type;
    __typeof__(&H5Dget_space) f_H5Dget_space;
    __typeof__(&H5Tclose) f_H5Tclose;
    __typeof__(&H5Tget_class) f_H5Tget_class;
    __typeof__(&H5Tget_size) f_H5Tget_size;
    __typeof__(&H5Tget_sign) f_H5Tget_sign;
    __typeof__(&H5Tget_precision) f_H5Tget_precision;
    __typeof__(&H5Tget_offset) f_H5Tget_offset;
    __typeof__(&H5Tequal) f_H5Tequal;
    __typeof__(&H5Tcopy) f_H5Tcopy;
    __typeof__(&H5Tset_size) f_H5Tset_size;
    __typeof__(&H5Lexists) f_H5Lexists;
    __typeof__(&H5Oexists_by_name) f_H5Oexists_by_name;
    __typeof__(&H5Eset_auto2) f_H5Eset_auto2;
    hid_t *g_H5T_NATIVE_FLOAT;
    hid_t *g_H5T_NATIVE_DOUBLE;
    hid_t *g_H5T_NATIVE_SHORT;
    hid_t *g_H5T_IEEE_F32LE;
    hid_t *g_H5T_IEEE_F64LE;
    hid_t *g_H5T_STD_I16LE;
    hid_t *g_H5T_C_S1;
    hid_t *g_H5P_CLS_FILE_ACCESS_ID;
    hid_t *g_H5P_CLS_DATASET_CREATE_ID;
    hid_t *g_H5P_CLS_LINK_CREATE_ID;
    hid_t *g_H5T_STD_I8LE;
    hid_t *g_H5T_STD_I8BE;
    hid_t *g_H5T_STD_I16BE;
    hid_t *g_H5T_STD_I32LE;
    hid_t *g_H5T_STD_I32BE;
    hid_t *g_H5T_STD_I64LE;
    hid_t *g_H5T_STD_I64BE;
    hid_t *g_H5T_STD_U8LE;
    hid_t *g_H5T_STD_U8BE;
    hid_t *g_H5T_STD_U16LE;
    hid_t *g_H5T_STD_U16BE;
    hid_t *g_H5T_STD_U32LE;
    hid_t *g_H5T_STD_U32BE;
    hid_t *g_H5T_STD_U64LE;
    hid_t *g_H5T_STD_U64BE;
    hid_t *g_H5T_IEEE_F32BE;
    hid_t *g_H5T_IEEE_F64BE;
};
/// The one table of this module's import (a function-local static: emitted with the function).
static inline struct pararnn_h5_api *pararnn_h5_table(void) {
    static struct pararnn_h5_api api;
    return &api;
}

/// Loads libhdf5 (once per importing module; callers hold the SequenceIO lock). Returns NULL
/// when it is loaded, else a sentence saying why not.
static inline const char *pararnn_h5_load(void) {
    if (pararnn_h5_table()->state == 1) return NULL;
    if (pararnn_h5_table()->state == -1) return pararnn_h5_table()->failure;
    static const char *names[] = {
        "libhdf5_serial.so" PARARNN_H5_SOVERSION, "libhdf5.so" PARARNN_H5_SOVERSION,
        "libhdf5_serial.so", "libhdf5.so", "libhdf5.dylib",
    };
    void *handle = NULL;
    for (size_t i = 0; i < sizeof names / sizeof names[0] && handle == NULL; i++) {
        handle = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
    }
    pararnn_h5_table()->state = -1;
    if (handle == NULL) {
        pararnn_h5_table()->failure = "cannot load libhdf5 (libhdf5_serial.so" PARARNN_H5_SOVERSION "; Debian: apt-get install libhdf5-dev)";
        return pararnn_h5_table()->failure;
    }
#define PARARNN_H5_LOAD(name) \
    pararnn_h5_table()->f_##name = (__typeof__(&name))dlsym(handle, PARARNN_H5_XSTR(name)); \
    if (pararnn_h5_table()->f_##name == NULL) { pararnn_h5_table()->failure = "the libhdf5 found lacks " PARARNN_H5_XSTR(name); return pararnn_h5_table()->failure; }
#define PARARNN_H5_GLOBAL(name) \
    pararnn_h5_table()->g_##name = (hid_t *)dlsym(handle, #name "_g"); \
    if (pararnn_h5_table()->g_##name == NULL) { pararnn_h5_table()->failure = "the libhdf5 found lacks " #name; return pararnn_h5_table()->failure; }
    PARARNN_H5_LOAD(H5open)
    PARARNN_H5_LOAD(H5Fis_hdf5)
    PARARNN_H5_LOAD(H5Fopen)
    PARARNN_H5_LOAD(H5Fcreate)
    PARARNN_H5_LOAD(H5Fclose)
    PARARNN_H5_LOAD(H5Fflush)
    PARARNN_H5_LOAD(H5Fget_file_image)
    PARARNN_H5_LOAD(H5Pcreate)
    PARARNN_H5_LOAD(H5Pclose)
    PARARNN_H5_LOAD(H5Pset_fapl_core)
    PARARNN_H5_LOAD(H5Pset_file_image)
    PARARNN_H5_LOAD(H5Pset_create_intermediate_group)
    PARARNN_H5_LOAD(H5Pset_chunk)
    PARARNN_H5_LOAD(H5Pset_deflate)
    PARARNN_H5_LOAD(H5Screate)
    PARARNN_H5_LOAD(H5Screate_simple)
    PARARNN_H5_LOAD(H5Sclose)
    PARARNN_H5_LOAD(H5Sget_simple_extent_ndims)
    PARARNN_H5_LOAD(H5Sget_simple_extent_dims)
    PARARNN_H5_LOAD(H5Sget_simple_extent_type)
    PARARNN_H5_LOAD(H5Dcreate2)
    PARARNN_H5_LOAD(H5Dopen2)
    PARARNN_H5_LOAD(H5Dclose)
    PARARNN_H5_LOAD(H5Dwrite)
    PARARNN_H5_LOAD(H5Dread)
    PARARNN_H5_LOAD(H5Dget_type)
    PARARNN_H5_LOAD(H5Dget_space)
    PARARNN_H5_LOAD(H5Tclose)
    PARARNN_H5_LOAD(H5Tget_class)
    PARARNN_H5_LOAD(H5Tget_size)
    PARARNN_H5_LOAD(H5Tget_sign)
    PARARNN_H5_LOAD(H5Tget_precision)
    PARARNN_H5_LOAD(H5Tget_offset)
    PARARNN_H5_LOAD(H5Tequal)
    PARARNN_H5_LOAD(H5Tcopy)
    PARARNN_H5_LOAD(H5Tset_size)
    PARARNN_H5_LOAD(H5Lexists)
    PARARNN_H5_LOAD(H5Oexists_by_name)
    PARARNN_H5_LOAD(H5Eset_auto2)
    PARARNN_H5_GLOBAL(H5T_NATIVE_FLOAT)
    PARARNN_H5_GLOBAL(H5T_NATIVE_DOUBLE)
    PARARNN_H5_GLOBAL(H5T_NATIVE_SHORT)
    PARARNN_H5_GLOBAL(H5T_IEEE_F32LE)
    PARARNN_H5_GLOBAL(H5T_IEEE_F64LE)
    PARARNN_H5_GLOBAL(H5T_STD_I16LE)
    PARARNN_H5_GLOBAL(H5T_C_S1)
    PARARNN_H5_GLOBAL(H5P_CLS_FILE_ACCESS_ID)
    PARARNN_H5_GLOBAL(H5P_CLS_DATASET_CREATE_ID)
    PARARNN_H5_GLOBAL(H5P_CLS_LINK_CREATE_ID)
    PARARNN_H5_GLOBAL(H5T_STD_I8LE)
    PARARNN_H5_GLOBAL(H5T_STD_I8BE)
    PARARNN_H5_GLOBAL(H5T_STD_I16BE)
    PARARNN_H5_GLOBAL(H5T_STD_I32LE)
    PARARNN_H5_GLOBAL(H5T_STD_I32BE)
    PARARNN_H5_GLOBAL(H5T_STD_I64LE)
    PARARNN_H5_GLOBAL(H5T_STD_I64BE)
    PARARNN_H5_GLOBAL(H5T_STD_U8LE)
    PARARNN_H5_GLOBAL(H5T_STD_U8BE)
    PARARNN_H5_GLOBAL(H5T_STD_U16LE)
    PARARNN_H5_GLOBAL(H5T_STD_U16BE)
    PARARNN_H5_GLOBAL(H5T_STD_U32LE)
    PARARNN_H5_GLOBAL(H5T_STD_U32BE)
    PARARNN_H5_GLOBAL(H5T_STD_U64LE)
    PARARNN_H5_GLOBAL(H5T_STD_U64BE)
    PARARNN_H5_GLOBAL(H5T_IEEE_F32BE)
    PARARNN_H5_GLOBAL(H5T_IEEE_F64BE)
#undef PARARNN_H5_LOAD
#undef PARARNN_H5_GLOBAL
    if (pararnn_h5_table()->f_H5open() < 0) {
        pararnn_h5_table()->failure = "libhdf5 failed to initialise";
        return pararnn_h5_table()->failure;
    }
    pararnn_h5_table()->state = 1;
    return NULL;
}

// Wrappers (call only after pararnn_h5_load() returned NULL).
static inline htri_t pararnn_H5Fis_hdf5(const char *name) { return pararnn_h5_table()->f_H5Fis_hdf5(name); }
static inline hid_t pararnn_H5Fopen(const char *name, unsigned flags, hid_t fapl) { return pararnn_h5_table()->f_H5Fopen(name, flags, fapl); }
static inline hid_t pararnn_H5Fcreate(const char *name, unsigned flags, hid_t fcpl, hid_t fapl) { return pararnn_h5_table()->f_H5Fcreate(name, flags, fcpl, fapl); }
static inline herr_t pararnn_H5Fclose(hid_t id) { return pararnn_h5_table()->f_H5Fclose(id); }
static inline herr_t pararnn_H5Fflush(hid_t id, H5F_scope_t scope) { return pararnn_h5_table()->f_H5Fflush(id, scope); }
static inline ssize_t pararnn_H5Fget_file_image(hid_t id, void *buf, size_t len) { return pararnn_h5_table()->f_H5Fget_file_image(id, buf, len); }
static inline hid_t pararnn_H5Pcreate(hid_t cls) { return pararnn_h5_table()->f_H5Pcreate(cls); }
static inline herr_t pararnn_H5Pclose(hid_t id) { return pararnn_h5_table()->f_H5Pclose(id); }
static inline herr_t pararnn_H5Pset_fapl_core(hid_t fapl, size_t increment, hbool_t backing_store) { return pararnn_h5_table()->f_H5Pset_fapl_core(fapl, increment, backing_store); }
static inline herr_t pararnn_H5Pset_file_image(hid_t fapl, void *buf, size_t len) { return pararnn_h5_table()->f_H5Pset_file_image(fapl, buf, len); }
static inline herr_t pararnn_H5Pset_create_intermediate_group(hid_t lcpl, unsigned create) { return pararnn_h5_table()->f_H5Pset_create_intermediate_group(lcpl, create); }
static inline herr_t pararnn_H5Pset_chunk(hid_t dcpl, int rank, const hsize_t *dims) { return pararnn_h5_table()->f_H5Pset_chunk(dcpl, rank, dims); }
static inline herr_t pararnn_H5Pset_deflate(hid_t dcpl, unsigned level) { return pararnn_h5_table()->f_H5Pset_deflate(dcpl, level); }
static inline hid_t pararnn_H5Screate(H5S_class_t type) { return pararnn_h5_table()->f_H5Screate(type); }
static inline hid_t pararnn_H5Screate_simple(int rank, const hsize_t *dims, const hsize_t *maxdims) { return pararnn_h5_table()->f_H5Screate_simple(rank, dims, maxdims); }
static inline herr_t pararnn_H5Sclose(hid_t id) { return pararnn_h5_table()->f_H5Sclose(id); }
static inline int pararnn_H5Sget_simple_extent_ndims(hid_t id) { return pararnn_h5_table()->f_H5Sget_simple_extent_ndims(id); }
static inline int pararnn_H5Sget_simple_extent_dims(hid_t id, hsize_t *dims, hsize_t *maxdims) { return pararnn_h5_table()->f_H5Sget_simple_extent_dims(id, dims, maxdims); }
static inline H5S_class_t pararnn_H5Sget_simple_extent_type(hid_t id) { return pararnn_h5_table()->f_H5Sget_simple_extent_type(id); }
static inline hid_t pararnn_H5Dcreate2(hid_t loc, const char *name, hid_t type, hid_t space, hid_t lcpl, hid_t dcpl, hid_t dapl) { return pararnn_h5_table()->f_H5Dcreate2(loc, name, type, space, lcpl, dcpl, dapl); }
static inline hid_t pararnn_H5Dopen2(hid_t loc, const char *name, hid_t dapl) { return pararnn_h5_table()->f_H5Dopen2(loc, name, dapl); }
static inline herr_t pararnn_H5Dclose(hid_t id) { return pararnn_h5_table()->f_H5Dclose(id); }
static inline herr_t pararnn_H5Dwrite(hid_t id, hid_t memtype, hid_t memspace, hid_t filespace, hid_t dxpl, const void *buf) { return pararnn_h5_table()->f_H5Dwrite(id, memtype, memspace, filespace, dxpl, buf); }
static inline herr_t pararnn_H5Dread(hid_t id, hid_t memtype, hid_t memspace, hid_t filespace, hid_t dxpl, void *buf) { return pararnn_h5_table()->f_H5Dread(id, memtype, memspace, filespace, dxpl, buf); }
static inline hid_t pararnn_H5Dget_type(hid_t id) { return pararnn_h5_table()->f_H5Dget_type(id); }
static inline hid_t pararnn_H5Dget_space(hid_t id) { return pararnn_h5_table()->f_H5Dget_space(id); }
static inline herr_t pararnn_H5Tclose(hid_t id) { return pararnn_h5_table()->f_H5Tclose(id); }
static inline H5T_class_t pararnn_H5Tget_class(hid_t id) { return pararnn_h5_table()->f_H5Tget_class(id); }
static inline size_t pararnn_H5Tget_size(hid_t id) { return pararnn_h5_table()->f_H5Tget_size(id); }
static inline H5T_sign_t pararnn_H5Tget_sign(hid_t id) { return pararnn_h5_table()->f_H5Tget_sign(id); }
static inline size_t pararnn_H5Tget_precision(hid_t id) { return pararnn_h5_table()->f_H5Tget_precision(id); }
static inline int pararnn_H5Tget_offset(hid_t id) { return pararnn_h5_table()->f_H5Tget_offset(id); }
static inline htri_t pararnn_H5Tequal(hid_t a, hid_t b) { return pararnn_h5_table()->f_H5Tequal(a, b); }
static inline hid_t pararnn_H5Tcopy(hid_t id) { return pararnn_h5_table()->f_H5Tcopy(id); }
static inline herr_t pararnn_H5Tset_size(hid_t id, size_t size) { return pararnn_h5_table()->f_H5Tset_size(id, size); }
static inline htri_t pararnn_H5Lexists(hid_t loc, const char *name, hid_t lapl) { return pararnn_h5_table()->f_H5Lexists(loc, name, lapl); }
static inline htri_t pararnn_H5Oexists_by_name(hid_t loc, const char *name, hid_t lapl) { return pararnn_h5_table()->f_H5Oexists_by_name(loc, name, lapl); }
static inline herr_t pararnn_H5Eset_auto2(hid_t stack, H5E_auto2_t func, void *data) { return pararnn_h5_table()->f_H5Eset_auto2(stack, func, data); }

// HDF5's constants (the library is initialised by pararnn_h5_load).
static inline hid_t pararnn_h5p_default(void) { return H5P_DEFAULT; }
static inline hid_t pararnn_h5s_all(void) { return H5S_ALL; }
static inline unsigned pararnn_h5f_acc_rdonly(void) { return 0x0000u; }
static inline unsigned pararnn_h5f_acc_trunc(void) { return 0x0002u; }
static inline hid_t pararnn_h5p_file_access(void) { return *pararnn_h5_table()->g_H5P_CLS_FILE_ACCESS_ID; }
static inline hid_t pararnn_h5p_dataset_create(void) { return *pararnn_h5_table()->g_H5P_CLS_DATASET_CREATE_ID; }
static inline hid_t pararnn_h5p_link_create(void) { return *pararnn_h5_table()->g_H5P_CLS_LINK_CREATE_ID; }
static inline hid_t pararnn_h5t_native_float(void) { return *pararnn_h5_table()->g_H5T_NATIVE_FLOAT; }
static inline hid_t pararnn_h5t_native_double(void) { return *pararnn_h5_table()->g_H5T_NATIVE_DOUBLE; }
static inline hid_t pararnn_h5t_native_int16(void) { return *pararnn_h5_table()->g_H5T_NATIVE_SHORT; }
static inline hid_t pararnn_h5t_ieee_f32le(void) { return *pararnn_h5_table()->g_H5T_IEEE_F32LE; }
static inline hid_t pararnn_h5t_ieee_f64le(void) { return *pararnn_h5_table()->g_H5T_IEEE_F64LE; }
static inline hid_t pararnn_h5t_std_i16le(void) { return *pararnn_h5_table()->g_H5T_STD_I16LE; }
static inline hid_t pararnn_h5t_c_s1(void) { return *pararnn_h5_table()->g_H5T_C_S1; }

/// Turns off HDF5's printing of its error stack to stderr (per thread in a thread-safe build).
static inline void pararnn_h5_silence(void) { pararnn_h5_table()->f_H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

/// Receives the path of each hard link below a group (relative to it).
typedef void (*pararnn_h5_name_fn)(const char *name, void *context);
struct pararnn_h5_visit_state { pararnn_h5_name_fn fn; void *context; };

static inline herr_t pararnn_h5_visit_link(hid_t group, const char *name, const H5L_info_t *info, void *data) {
    (void)group;
    struct pararnn_h5_visit_state *state = (struct pararnn_h5_visit_state *)data;
    if (info->type == H5L_TYPE_HARD) state->fn(name, state->context);
    return 0;
}

/// Calls `fn` with the path of every hard link below `group`, recursively, in name order.
/// (H5Lvisit is H5Lvisit2 from 1.12 on, with another info struct: looked up by the macro's name.)
static inline herr_t pararnn_h5_visit_links(hid_t group, pararnn_h5_name_fn fn, void *context) {
    static __typeof__(&H5Lvisit) visit = NULL;
    if (visit == NULL) {
        void *handle = dlopen("libhdf5_serial.so" PARARNN_H5_SOVERSION, RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD);
        if (handle == NULL) handle = dlopen("libhdf5.so" PARARNN_H5_SOVERSION, RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD);
        if (handle == NULL) handle = dlopen("libhdf5_serial.so", RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD);
        if (handle == NULL) handle = dlopen("libhdf5.so", RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD);
        if (handle != NULL) visit = (__typeof__(&H5Lvisit))dlsym(handle, PARARNN_H5_XSTR(H5Lvisit));
        if (visit == NULL) return -1;
    }
    struct pararnn_h5_visit_state state = {fn, context};
    return visit(group, H5_INDEX_NAME, H5_ITER_INC, pararnn_h5_visit_link, &state);
}

/// 1 when `type` is one of HDF5's standard numeric types (8-64-bit integers, signed or not, and
/// IEEE float32/float64, either byte order), else 0. Other types (odd precisions or offsets,
/// which a damaged file can declare) are refused before libhdf5 converts them.
static inline int pararnn_h5t_is_standard_number(hid_t type) {
    hid_t *standard[] = {
        pararnn_h5_table()->g_H5T_STD_I8LE, pararnn_h5_table()->g_H5T_STD_I8BE, pararnn_h5_table()->g_H5T_STD_I16LE, pararnn_h5_table()->g_H5T_STD_I16BE,
        pararnn_h5_table()->g_H5T_STD_I32LE, pararnn_h5_table()->g_H5T_STD_I32BE, pararnn_h5_table()->g_H5T_STD_I64LE, pararnn_h5_table()->g_H5T_STD_I64BE,
        pararnn_h5_table()->g_H5T_STD_U8LE, pararnn_h5_table()->g_H5T_STD_U8BE, pararnn_h5_table()->g_H5T_STD_U16LE, pararnn_h5_table()->g_H5T_STD_U16BE,
        pararnn_h5_table()->g_H5T_STD_U32LE, pararnn_h5_table()->g_H5T_STD_U32BE, pararnn_h5_table()->g_H5T_STD_U64LE, pararnn_h5_table()->g_H5T_STD_U64BE,
        pararnn_h5_table()->g_H5T_IEEE_F32LE, pararnn_h5_table()->g_H5T_IEEE_F32BE, pararnn_h5_table()->g_H5T_IEEE_F64LE, pararnn_h5_table()->g_H5T_IEEE_F64BE,
    };
    for (unsigned i = 0; i < sizeof standard / sizeof standard[0]; i++) {
        if (pararnn_H5Tequal(type, *standard[i]) > 0) return 1;
    }
    return 0;
}
