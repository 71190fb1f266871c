# Fill the C parameter struct from a validated fastconv._validate.ConvSpec.
cdef inline fc_conv_params make_conv_params(object spec, int num_threads, int isa) except *:
    cdef fc_conv_params p
    cdef int a
    p.n = spec.n
    p.c_in = spec.c_in
    p.c_out = spec.c_out
    p.groups = spec.groups
    for a in range(3):
        p.in_[a] = spec.in_size[a]
        p.out[a] = spec.out_size[a]
        p.k[a] = spec.kernel[a]
        p.stride[a] = spec.stride[a]
        p.dil[a] = spec.dilation[a]
        p.pad[a] = spec.pad_before[a]
    p.pad_mode = spec.pad_mode
    p.num_threads = num_threads
    p.isa = isa
    return p
