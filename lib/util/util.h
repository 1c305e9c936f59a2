/* Door of lib/util/: the only header of this folder that other folders
 * include ("util/util.h"). util/ knows nothing of endpoints, sessions or
 * MQTT: a reconnect backoff schedule, a YAML node tree with positions, and
 * the status strings and version queries of the public common.h.
 * Layer: the bottom one; util/ includes nothing from other folders. */
#ifndef AIOE_UTIL_DOOR_H
#define AIOE_UTIL_DOOR_H

#include "backoff.h"   /* exponential backoff with full jitter (backoff.c) */
#include "yaml_tree.h" /* libyaml document tree with line/column (yaml_tree.c), loaded with limits (yaml_load.c) */

#endif
