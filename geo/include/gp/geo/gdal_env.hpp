#pragma once
// GDAL process set-up and error routing (PDAL's ErrorHandler model): GDAL never prints raw to
// stderr; failures reach the user through our exceptions, warnings through gp::log.


#include <string>

namespace gp::geo {

/// Registers drivers once, installs the error handler and sets a bounded block cache.
/// `cache_mib` caps GDAL's raster block cache; `threads` feeds GDAL_NUM_THREADS (0 = all cores).
void init_gdal(int cache_mib = 96, int threads = 0);

/// GDAL's last error message (empty when none), for composing our own one-line errors.
std::string last_gdal_error();

/// Clears GDAL's last error so that a following check sees only new errors.
void reset_gdal_error();

/// Whether GDAL failed an allocation in this process (on any thread): the error a caller then
/// raises (input or output) is reported as out of memory.
bool gdal_ran_out_of_memory();

}  // namespace gp::geo
