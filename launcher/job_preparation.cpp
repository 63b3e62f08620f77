#include "job_preparation.hpp"

#include "context_image.hpp"
#include "durable_file.hpp"
#include "overlay.hpp"
#include "unique_fd.hpp"

#include <fcntl.h>

namespace smartvm::launcher {

Result<void> prepare_job(const Service& service, const JobRequest& request, const std::vector<std::string>& inputs,
                         const JobFiles& files, const PreparationTools& tools) {
  UniqueFd dir(open(files.dir().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir.valid()) return os_error("open " + files.dir());
  // The ISO is read once by the guest; a power cut ends the job anyway: no fsync.
  if (auto r = write_file_atomically(dir.get(), "appliance.ini", request.appliance, 0644, Durability::atomic_only); !r)
    return r.error();
  tools::ContextImageRequest iso;
  iso.appliance = files.appliance();
  iso.files = inputs;
  iso.output = files.context_iso();
  if (auto r = tools::build_context_image(iso); !r) return r.error().context("the context ISO");
  return create_overlay({service.image, service.image_format, files.overlay(), tools.qemu_img});
}

}  // namespace smartvm::launcher
