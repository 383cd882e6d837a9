/* smtp_client.c - placeholder until it is written */
#include "config.h"
