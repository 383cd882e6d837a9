/* dkim_key.c - placeholder, see dkim_key.h */
#include "config.h"
#include "dkim_key.h"
