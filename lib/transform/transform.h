/* Door of lib/transform/: the only header of this folder that other
 * folders include ("transform/transform.h"). transform/ is the pure
 * BuiltInTransformation stage of a Dataflow: field paths, expressions
 * parsed once to an AST and evaluated over json-c values, filter then
 * map (docs/transform.md). No I/O.
 *
 * Everything the rest of the library needs (spec/ compiles a Dataflow's
 * rules with it to report errors at parse time) is the public API in
 * aioendpoint/transform.h; the values, the AST and the path parser
 * (transform_internal.h) are for this folder and tests only.
 * Layer: transform (1); includes "util/util.h" at most. */
#ifndef AIOE_TRANSFORM_DOOR_H
#define AIOE_TRANSFORM_DOOR_H

#include "aioendpoint/transform.h"

#endif
