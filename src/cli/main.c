/* seqlora: dispatch to a subcommand. */
#include <stdio.h>
#include <string.h>

#include "build_info.h"
#include "commands.h"
#include "util/log.h"

typedef struct {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
} command;

static const command commands[] = {
#define SL_COMMAND(name, fn, summary) {#name, fn, summary},
#include "commands.def"
#undef SL_COMMAND
    {NULL, NULL, NULL},
};

static void print_version(void) {
    printf("seqlora %s\n", SEQLORA_VERSION);
    printf("backends: cpu (OpenBLAS%s)%s\n",
           strcmp(SEQLORA_HAVE_ONEDNN_STR, "ON") == 0 ? ", bf16: oneDNN" : "",
           strcmp(SEQLORA_HAVE_CUDA_STR, "ON") == 0 ? ", cuda (cuBLAS)" : "");
}

static void print_usage(FILE *out) {
    fprintf(out,
            "usage: seqlora <command> [options]\n\n"
            "Fine-tune genomic language models with LoRA as cached, provenance-tracked pipeline steps.\n\n"
            "commands:\n");
    for (const command *c = commands; c->name; c++) fprintf(out, "  %-10s %s\n", c->name, c->summary);
    fprintf(out,
            "\n`seqlora <command> --help` describes each command. `seqlora --version` lists the backends.\n");
}

int main(int argc, char **argv) {
    sl_log_init();
    if (argc < 2) {
        print_usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
        print_version();
        return 0;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        print_usage(stdout);
        return 0;
    }
    for (const command *c = commands; c->name; c++)
        if (!strcmp(argv[1], c->name)) return c->fn(argc - 1, argv + 1);
    fprintf(stderr, "seqlora: error: unknown command '%s'\n", argv[1]);
    print_usage(stderr);
    return 2;
}
