// Open MPI, loaded on demand.
//
// pararnn does not link libmpi: a solve that is not distributed must start as fast as before and
// run where no MPI is installed. `cmpi_load` opens Open MPI's libmpi.so.40 (or the library named
// by PARARNN_LIBMPI) with dlopen and resolves the few functions and predefined handles below;
// every other function here forwards to it. Handles (communicators, datatypes, operations) are
// Open MPI's pointers, carried as `void *`.
#ifndef CMPI_H
#define CMPI_H

#ifdef __cplusplus
extern "C" {
#endif

/// The user-defined reduction: inout[i] = in[i] ∘ inout[i] for `*count` elements of `*datatype`.
typedef void (*cmpi_user_function)(void *in, void *inout, int *count, void **datatype);

/// Opens libmpi and resolves every symbol; 0 on success, else -1 with a message in `error`.
int cmpi_load(char *error, int capacity);
/// Whether `cmpi_load` succeeded.
int cmpi_loaded(void);

int cmpi_init_thread_funneled(int *provided);
int cmpi_initialized(int *flag);
int cmpi_finalized(int *flag);
int cmpi_finalize(void);
int cmpi_abort(void *comm, int code);
int cmpi_error_string(int code, char *text, int *length);

void *cmpi_comm_world(void);
void *cmpi_float(void);
void *cmpi_double(void);
void *cmpi_byte(void);
void *cmpi_int64(void);
void *cmpi_op_max(void);
void *cmpi_op_min(void);
void *cmpi_op_sum(void);
int cmpi_proc_null(void);

int cmpi_comm_rank(void *comm, int *rank);
int cmpi_comm_size(void *comm, int *size);
int cmpi_comm_split(void *comm, int color, int key, void **result);
int cmpi_comm_free(void **comm);
int cmpi_barrier(void *comm);
int cmpi_bcast(void *buffer, int count, void *datatype, int root, void *comm);
int cmpi_allreduce(const void *send, void *receive, int count, void *datatype, void *op, void *comm);
int cmpi_exscan(const void *send, void *receive, int count, void *datatype, void *op, void *comm);
int cmpi_send(const void *buffer, int count, void *datatype, int destination, int tag, void *comm);
int cmpi_recv(void *buffer, int count, void *datatype, int source, int tag, void *comm);
int cmpi_sendrecv(
    const void *send, int sendCount, void *sendType, int destination, int sendTag,
    void *receive, int receiveCount, void *receiveType, int source, int receiveTag, void *comm);
int cmpi_type_contiguous(int count, void *element, void **result);
int cmpi_type_commit(void **datatype);
int cmpi_type_free(void **datatype);
int cmpi_op_create(cmpi_user_function function, int commute, void **result);
int cmpi_op_free(void **op);

#ifdef __cplusplus
}
#endif
#endif
