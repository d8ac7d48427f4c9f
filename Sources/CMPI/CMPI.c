// Forwarders to Open MPI's libmpi, resolved with dlopen/dlsym (see include/CMPI.h).
// Open MPI's ABI: handles are pointers to its predefined objects (ompi_mpi_comm_world, …),
// MPI_THREAD_FUNNELED is 1, MPI_PROC_NULL is -2, MPI_STATUS_IGNORE is NULL.
#include "CMPI.h"
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CMPI_ERROR_UNLOADED 16

static void *library = NULL;
static void *world, *type_float, *type_double, *type_byte, *type_int64, *op_max, *op_min, *op_sum;

static int (*p_init_thread)(int *, char ***, int, int *);
static int (*p_initialized)(int *);
static int (*p_finalized)(int *);
static int (*p_finalize)(void);
static int (*p_abort)(void *, int);
static int (*p_error_string)(int, char *, int *);
static int (*p_comm_rank)(void *, int *);
static int (*p_comm_size)(void *, int *);
static int (*p_comm_split)(void *, int, int, void **);
static int (*p_comm_free)(void **);
static int (*p_barrier)(void *);
static int (*p_bcast)(void *, int, void *, int, void *);
static int (*p_allreduce)(const void *, void *, int, void *, void *, void *);
static int (*p_exscan)(const void *, void *, int, void *, void *, void *);
static int (*p_send)(const void *, int, void *, int, int, void *);
static int (*p_recv)(void *, int, void *, int, int, void *, void *);
static int (*p_sendrecv)(const void *, int, void *, int, int, void *, int, void *, int, int, void *, void *);
static int (*p_type_contiguous)(int, void *, void **);
static int (*p_type_commit)(void **);
static int (*p_type_free)(void **);
static int (*p_op_create)(cmpi_user_function, int, void **);
static int (*p_op_free)(void **);

static int resolve(void *handle, const char *name, void **slot, char *error, int capacity) {
    *slot = dlsym(handle, name);
    if (*slot == NULL) {
        snprintf(error, (size_t)capacity, "%s lacks %s (Open MPI 4 or later is needed)", "libmpi", name);
        return -1;
    }
    return 0;
}

int cmpi_load(char *error, int capacity) {
    if (library != NULL) return 0;
    const char *named = getenv("PARARNN_LIBMPI");
    const char *candidates[] = {named, "libmpi.so.40", "libmpi.so", "libmpi.dylib"};
    void *handle = NULL;
    const char *why = "no candidate";
    for (size_t i = 0; i < sizeof candidates / sizeof candidates[0] && handle == NULL; i++) {
        if (candidates[i] == NULL || candidates[i][0] == 0) continue;
        // RTLD_GLOBAL: Open MPI's components (dlopened by libmpi) resolve libmpi's symbols.
        handle = dlopen(candidates[i], RTLD_NOW | RTLD_GLOBAL);
        if (handle == NULL) why = dlerror();
    }
    if (handle == NULL) {
        snprintf(error, (size_t)capacity, "cannot load Open MPI's libmpi (%s); install openmpi-bin and libopenmpi-dev or set PARARNN_LIBMPI", why);
        return -1;
    }
    struct { const char *name; void **slot; } table[] = {
        {"MPI_Init_thread", (void **)&p_init_thread}, {"MPI_Initialized", (void **)&p_initialized},
        {"MPI_Finalized", (void **)&p_finalized}, {"MPI_Finalize", (void **)&p_finalize},
        {"MPI_Abort", (void **)&p_abort}, {"MPI_Error_string", (void **)&p_error_string},
        {"MPI_Comm_rank", (void **)&p_comm_rank}, {"MPI_Comm_size", (void **)&p_comm_size},
        {"MPI_Comm_split", (void **)&p_comm_split}, {"MPI_Comm_free", (void **)&p_comm_free},
        {"MPI_Barrier", (void **)&p_barrier}, {"MPI_Bcast", (void **)&p_bcast},
        {"MPI_Allreduce", (void **)&p_allreduce}, {"MPI_Exscan", (void **)&p_exscan},
        {"MPI_Send", (void **)&p_send}, {"MPI_Recv", (void **)&p_recv},
        {"MPI_Sendrecv", (void **)&p_sendrecv},
        {"MPI_Type_contiguous", (void **)&p_type_contiguous},
        {"MPI_Type_commit", (void **)&p_type_commit}, {"MPI_Type_free", (void **)&p_type_free},
        {"MPI_Op_create", (void **)&p_op_create}, {"MPI_Op_free", (void **)&p_op_free},
        {"ompi_mpi_comm_world", &world}, {"ompi_mpi_float", &type_float},
        {"ompi_mpi_double", &type_double}, {"ompi_mpi_byte", &type_byte},
        {"ompi_mpi_int64_t", &type_int64}, {"ompi_mpi_op_max", &op_max},
        {"ompi_mpi_op_min", &op_min}, {"ompi_mpi_op_sum", &op_sum},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        if (resolve(handle, table[i].name, table[i].slot, error, capacity) != 0) {
            dlclose(handle);
            return -1;
        }
    }
    library = handle;
    return 0;
}

int cmpi_loaded(void) { return library != NULL; }

#define FORWARD(call) return library == NULL ? CMPI_ERROR_UNLOADED : (call)

int cmpi_init_thread_funneled(int *provided) { FORWARD(p_init_thread(NULL, NULL, 1, provided)); }
int cmpi_initialized(int *flag) { FORWARD(p_initialized(flag)); }
int cmpi_finalized(int *flag) { FORWARD(p_finalized(flag)); }
int cmpi_finalize(void) { FORWARD(p_finalize()); }
int cmpi_abort(void *comm, int code) { FORWARD(p_abort(comm, code)); }
int cmpi_error_string(int code, char *text, int *length) { FORWARD(p_error_string(code, text, length)); }

void *cmpi_comm_world(void) { return world; }
void *cmpi_float(void) { return type_float; }
void *cmpi_double(void) { return type_double; }
void *cmpi_byte(void) { return type_byte; }
void *cmpi_int64(void) { return type_int64; }
void *cmpi_op_max(void) { return op_max; }
void *cmpi_op_min(void) { return op_min; }
void *cmpi_op_sum(void) { return op_sum; }
int cmpi_proc_null(void) { return -2; }

int cmpi_comm_rank(void *comm, int *rank) { FORWARD(p_comm_rank(comm, rank)); }
int cmpi_comm_size(void *comm, int *size) { FORWARD(p_comm_size(comm, size)); }
int cmpi_comm_split(void *comm, int color, int key, void **result) { FORWARD(p_comm_split(comm, color, key, result)); }
int cmpi_comm_free(void **comm) { FORWARD(p_comm_free(comm)); }
int cmpi_barrier(void *comm) { FORWARD(p_barrier(comm)); }
int cmpi_bcast(void *buffer, int count, void *datatype, int root, void *comm) {
    FORWARD(p_bcast(buffer, count, datatype, root, comm));
}
int cmpi_allreduce(const void *send, void *receive, int count, void *datatype, void *op, void *comm) {
    FORWARD(p_allreduce(send, receive, count, datatype, op, comm));
}
int cmpi_exscan(const void *send, void *receive, int count, void *datatype, void *op, void *comm) {
    FORWARD(p_exscan(send, receive, count, datatype, op, comm));
}
int cmpi_send(const void *buffer, int count, void *datatype, int destination, int tag, void *comm) {
    FORWARD(p_send(buffer, count, datatype, destination, tag, comm));
}
int cmpi_recv(void *buffer, int count, void *datatype, int source, int tag, void *comm) {
    FORWARD(p_recv(buffer, count, datatype, source, tag, comm, NULL));
}
int cmpi_sendrecv(
    const void *send, int sendCount, void *sendType, int destination, int sendTag,
    void *receive, int receiveCount, void *receiveType, int source, int receiveTag, void *comm) {
    FORWARD(p_sendrecv(send, sendCount, sendType, destination, sendTag, receive, receiveCount,
                       receiveType, source, receiveTag, comm, NULL));
}
int cmpi_type_contiguous(int count, void *element, void **result) { FORWARD(p_type_contiguous(count, element, result)); }
int cmpi_type_commit(void **datatype) { FORWARD(p_type_commit(datatype)); }
int cmpi_type_free(void **datatype) { FORWARD(p_type_free(datatype)); }
int cmpi_op_create(cmpi_user_function function, int commute, void **result) { FORWARD(p_op_create(function, commute, result)); }
int cmpi_op_free(void **op) { FORWARD(p_op_free(op)); }
