// The host-side preparation of one job, before its domain starts: the appliance.ini written,
// the context ISO built from it and the request's input files (smartvm-context's own code),
// the overlay made on the golden image. Nothing of it depends on the image's size.
#pragma once

#include "error.hpp"
#include "job_files.hpp"
#include "job_request.hpp"
#include "service_catalog.hpp"

#include <string>
#include <vector>

namespace smartvm::launcher {

struct PreparationTools {
  std::string qemu_img = "qemu-img";
};

// On failure, what was made so far stays in `files` for its owner to remove.
Result<void> prepare_job(const Service& service, const JobRequest& request, const std::vector<std::string>& inputs,
                         const JobFiles& files, const PreparationTools& tools = {});

}  // namespace smartvm::launcher
