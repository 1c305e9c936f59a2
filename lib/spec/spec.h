/* Door of lib/spec/: the only header of this folder that other folders
 * include ("spec/spec.h"). spec/ turns DataflowEndpoint, Dataflow and
 * DataflowProfile YAML into immutable, reference-counted objects, writes
 * them back as YAML/JSON, and checks the Event Grid and topic rules. It
 * does no I/O beyond reading the files it is asked to parse.
 *
 * The rest of the library reads endpoints through the public getters
 * (aioendpoint/spec.h, dataflow.h, eventgrid.h); the parser's own
 * structures (spec_internal.h, spec_util.h, spec_walk.h) stay private.
 * Layer: above util/; includes "util/util.h" only. */
#ifndef AIOE_SPEC_DOOR_H
#define AIOE_SPEC_DOOR_H

#include "aioendpoint/dataflow.h"
#include "aioendpoint/eventgrid.h"
#include "aioendpoint/spec.h"
#include "spec_fields.h" /* per-field rules, errors outside a parse (spec_fields.c) */

#endif
