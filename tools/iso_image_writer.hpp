// Writing an ISO 9660 image with Rock Ridge and Joliet in this process, through libisofs (the
// library xorriso is built on), with the options `xorriso -as mkisofs -J -R` uses: Rock Ridge
// keeps the host's names, modes, owners and times; symbolic links stay links. libisofs
// produces the image in a thread of its own; this reads it from libisofs's burn_source and
// writes it, so no program is started and nothing sleeps (xorriso's libburn waited 100 ms).
//
// libisofs's message queue and abort threshold belong to the whole process: one image at a
// time per process.
#pragma once

#include "error.hpp"

#include <string>
#include <vector>

namespace smartvm::tools {

// A file, directory (with everything below it) or symbolic link of the host, placed at the
// image's root under `name`.
struct IsoRootEntry {
  std::string name;
  std::string path;
};

// Writes the image to a temporary name in `output`'s directory and renames it over `output`
// once complete; on any error nothing is left at either name. A file that cannot be read is
// an error naming it (never a file of zeros, which is what libisofs does by default). No
// fsync: a context ISO is rebuilt rather than recovered.
Result<void> write_iso_image(const std::string& label, const std::vector<IsoRootEntry>& entries,
                             const std::string& output);

}  // namespace smartvm::tools
