/* mime.c - placeholder until written */
#include "config.h"
