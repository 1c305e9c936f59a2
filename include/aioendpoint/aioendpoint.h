/**
 * @file aioendpoint.h
 * @brief Umbrella header: include this one to use libaioendpoint.
 */
#ifndef AIOENDPOINT_AIOENDPOINT_H
#define AIOENDPOINT_AIOENDPOINT_H

#include "version.h"
#include "common.h"
#include "spec.h"
#include "endpoint_builder.h"
#include "dataflow.h"
#include "properties.h"
#include "cloudevents.h"
#include "transform.h"
#include "session.h"
#include "env.h"
#include "pubsub.h"
#include "inbox.h"
#include "identity.h"
#include "eventgrid.h"

#endif /* AIOENDPOINT_AIOENDPOINT_H */
