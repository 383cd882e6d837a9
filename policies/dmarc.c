/* dmarc.c - placeholder, see dmarc.h */
#include "config.h"
