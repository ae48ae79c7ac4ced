/* seqlora backends: the compute backends usable on this machine at run time (the CPU engine, and each CUDA
 * device when libseqlora_cuda.so loads and a driver and device are there), and what --device would pick. */
#include <getopt.h>
#include <stdio.h>

#include "cli_common.h"
#include "commands.h"
#include "nn/backend.h"

static const char usage[] =
    "usage: seqlora backends [--device auto|cpu|cuda|cuda:N]\n\n"
    "Lists the backends usable here (one line each) and the device --device resolves to (default auto:\n"
    "the first CUDA device when the CUDA module loads and a device is visible, else the CPU, with the\n"
    "reason). SEQLORA_CUDA_MODULE=PATH loads the module from PATH; =none disables CUDA.\n"
    "Exit 2 when the requested device is not usable.\n";

int sl_cmd_backends(int argc, char **argv) {
    const char *device = "auto";
    static const struct option opts[] = {
        {"device", required_argument, NULL, 'd'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'd')
            device = optarg;
        else if (c == 'h') {
            fputs(usage, stdout);
            return 0;
        } else
            return sl_cli_usage_error("seqlora backends: unknown option (see --help)");
    }
    if (optind < argc) return sl_cli_usage_error("seqlora backends: unexpected argument '%s'", argv[optind]);
    sl_err err = {0};
    sl_nn_device req, got;
    int rc = sl_nn_device_parse(device, &req, &err);
    char buf[8192], note[1200], name[32];
    fputs(sl_nn_backends_describe(buf, sizeof buf), stdout);
    if (!rc) rc = sl_nn_device_resolve(&req, &got, note, sizeof note, &err);
    if (rc) return sl_cli_report(rc, &err);
    printf("--device %s -> %s%s%s\n", device, sl_nn_device_format(&got, name, sizeof name),
           note[0] ? ": " : "", note);
    return 0;
}
