/* dmarc_store.c - placeholder, see dmarc_store.h */
#include "config.h"
