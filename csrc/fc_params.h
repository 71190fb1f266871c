/*
 * fc_params.h - the convolution parameter struct.
 *
 * Every convolution is described in three spatial dimensions (D, H, W); 1-D and
 * 2-D calls use size-1 leading dimensions, so each kernel has one N-d code path.
 */
#ifndef FC_PARAMS_H
#define FC_PARAMS_H

#include "fc_common.h"

typedef struct {
    fc_index n;          /* batch size (>= 0)                                   */
    fc_index c_in;       /* input channels (all groups)                         */
    fc_index c_out;      /* output channels (all groups)                        */
    fc_index groups;     /* c_in and c_out are multiples of groups              */
    fc_index in[3];      /* input sizes (D, H, W), each >= 1                    */
    fc_index out[3];     /* output sizes (D, H, W), each >= 1                   */
    fc_index k[3];       /* kernel sizes, >= 1                                  */
    fc_index stride[3];  /* strides, >= 1                                       */
    fc_index dil[3];     /* dilations, >= 1                                     */
    fc_index pad[3];     /* padding before each axis (left/top/front), >= 0     */
    int pad_mode;        /* fc_padmode, how padded cells read the input         */
    int num_threads;     /* threads for this call, >= 1                         */
    int isa;             /* fc_isa to run                                       */
} fc_conv_params;

#endif /* FC_PARAMS_H */
