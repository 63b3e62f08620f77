// Building a context ISO: ISO 9660 with Rock Ridge and Joliet, labelled CONTEXT, holding
// appliance.ini and the job's files at its root. The image is written in this process by
// libisofs (iso_image_writer.hpp); nothing here writes ISO 9660 by hand.
#pragma once

#include "diagnostic.hpp"
#include "error.hpp"

#include <string>
#include <vector>

namespace smartvm::tools {

struct ContextImageRequest {
  std::string appliance;            // appliance.ini (or context.sh) on the host
  std::vector<std::string> files;   // more files or directories, each at the root by its base name
  std::string output = "ctx.iso";
  std::string label = "CONTEXT";
};

// Checks a job description with the agent's own parser. Returns every diagnostic; the
// guest-side checks (does the user exist, symlinks in the repository) cannot be made here.
Result<Diagnostics> check_job_description(const std::string& path);

// Validates, then writes the image atomically (a temporary file renamed over `output`).
// On any error no image, whole or partial, is left at `output`, and none under a temporary name.
Result<void> build_context_image(const ContextImageRequest& req);

}  // namespace smartvm::tools
