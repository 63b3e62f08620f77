#include "source_worker.hpp"

namespace smartvm::nodeld {

SourceWorker::SourceWorker() : guard_(io_.get_executor()), thread_([this] { io_.run(); }) {}

SourceWorker::~SourceWorker() {
  guard_.reset();
  io_.stop();
  thread_.join();
}

}  // namespace smartvm::nodeld
