// libhdf5 (Debian libhdf5-dev, serial build): HDF5 datasets in and out.
// Swift cannot import HDF5's function-like constant macros (H5T_NATIVE_DOUBLE, H5P_DEFAULT,
// H5F_ACC_RDONLY, ...) nor the version-mapped names (H5Lvisit -> H5Lvisit2 in 1.12+), so the
// few this package needs are wrapped here as inline functions.
#include <hdf5.h>

static inline hid_t pararnn_h5p_default(void) { return H5P_DEFAULT; }
static inline hid_t pararnn_h5s_all(void) { return H5S_ALL; }
static inline unsigned pararnn_h5f_acc_rdonly(void) { return H5F_ACC_RDONLY; }
static inline unsigned pararnn_h5f_acc_trunc(void) { return H5F_ACC_TRUNC; }
static inline hid_t pararnn_h5p_file_access(void) { return H5P_FILE_ACCESS; }
static inline hid_t pararnn_h5p_dataset_create(void) { return H5P_DATASET_CREATE; }
static inline hid_t pararnn_h5p_link_create(void) { return H5P_LINK_CREATE; }
static inline hid_t pararnn_h5t_native_float(void) { return H5T_NATIVE_FLOAT; }
static inline hid_t pararnn_h5t_native_double(void) { return H5T_NATIVE_DOUBLE; }
static inline hid_t pararnn_h5t_native_int16(void) { return H5T_NATIVE_SHORT; }
static inline hid_t pararnn_h5t_ieee_f32le(void) { return H5T_IEEE_F32LE; }
static inline hid_t pararnn_h5t_ieee_f64le(void) { return H5T_IEEE_F64LE; }
static inline hid_t pararnn_h5t_std_i16le(void) { return H5T_STD_I16LE; }
static inline hid_t pararnn_h5t_c_s1(void) { return H5T_C_S1; }

/// Turns off HDF5's printing of its error stack to stderr (errors are reported by the caller).
static inline void pararnn_h5_silence(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

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
static inline herr_t pararnn_h5_visit_links(hid_t group, pararnn_h5_name_fn fn, void *context) {
    struct pararnn_h5_visit_state state = {fn, context};
    return H5Lvisit(group, H5_INDEX_NAME, H5_ITER_INC, pararnn_h5_visit_link, &state);
}

/// 1 when `type` is one of HDF5's standard numeric types (8-64-bit integers, signed or not, and
/// IEEE float32/float64, either byte order), else 0. Other types (odd precisions or offsets,
/// which a damaged file can declare) are refused before libhdf5 converts them.
static inline int pararnn_h5t_is_standard_number(hid_t type) {
    hid_t standard[] = {
        H5T_STD_I8LE, H5T_STD_I8BE, H5T_STD_I16LE, H5T_STD_I16BE, H5T_STD_I32LE, H5T_STD_I32BE,
        H5T_STD_I64LE, H5T_STD_I64BE, H5T_STD_U8LE, H5T_STD_U8BE, H5T_STD_U16LE, H5T_STD_U16BE,
        H5T_STD_U32LE, H5T_STD_U32BE, H5T_STD_U64LE, H5T_STD_U64BE,
        H5T_IEEE_F32LE, H5T_IEEE_F32BE, H5T_IEEE_F64LE, H5T_IEEE_F64BE,
    };
    for (unsigned i = 0; i < sizeof standard / sizeof standard[0]; i++) {
        if (H5Tequal(type, standard[i]) > 0) return 1;
    }
    return 0;
}
