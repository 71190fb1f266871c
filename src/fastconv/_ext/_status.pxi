# Turn a kernel status code into the Python exception it stands for.
cdef inline int check_status(int status, str opname) except -1:
    if status == FC_OK:
        return 0
    if status == FC_ENOMEM:
        raise MemoryError(f"{opname}: could not allocate the kernel's scratch memory")
    raise ValueError(f"{opname}: the kernel rejected its arguments (status {status}); "
                     "this is a fastconv bug, please report it")
