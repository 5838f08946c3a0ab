// pool.c: offsets into the shared pool.
//
// The pool is mapped in both domains at different addresses, so a buffer
// crosses as (offset, length).  lvd_pool_offset and lvd_pool_ptr are inline
// in lvd_glue.h (one check per buffer per crossing); this file stays so that
// the runtime's list of sources does not change.

#include "lvd_glue.h"
