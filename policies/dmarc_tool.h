/*
 * dmarc_tool.h - "posternctl dmarc" subcommands (see the man page
 * posternctl(1) for the command line; contract filled in with the code)
 */
#ifndef POSTERN_DMARC_TOOL_H
#define POSTERN_DMARC_TOOL_H

int dmarc_tool_main(int argc, char **argv);

#endif
