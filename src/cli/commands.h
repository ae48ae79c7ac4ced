/* Declarations of every subcommand's entry point (see commands.def). Each returns a process exit status. */
#ifndef SEQLORA_CLI_COMMANDS_H
#define SEQLORA_CLI_COMMANDS_H

#define SL_COMMAND(name, fn, summary) int fn(int argc, char **argv);
#include "commands.def"
#undef SL_COMMAND

#endif
