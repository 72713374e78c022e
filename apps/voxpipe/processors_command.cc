// `voxpipe processors [NAME]`: what is registered, from the registry itself.
#include <fmt/format.h>

#include "apps/voxpipe/commands.h"
#include "framework/registry.h"
#include "framework/service.h"

namespace voxpipe::cli {
namespace {

void PrintOptions(const std::vector<OptionInfo>& options, int indent) {
  if (options.empty()) {
    fmt::print("{:{}}(none)\n", "", indent);
    return;
  }
  for (const auto& o : options) {
    std::string detail = o.required ? "required" : o.default_value.empty() ? "" : "default " + o.default_value;
    if (!o.choices.empty()) detail += fmt::format("{}one of {}", detail.empty() ? "" : "; ", fmt::join(o.choices, ", "));
    if (!o.range.empty()) detail += fmt::format("{}range {}", detail.empty() ? "" : "; ", o.range);
    fmt::print("{:{}}{} ({}{}{})\n", "", indent, o.name, o.type, detail.empty() ? "" : ", ", detail);
    fmt::print("{:{}}    {}\n", "", indent, o.description);
    if (!o.fields.empty()) PrintOptions(o.fields, indent + 4);
  }
}

void PrintIndented(const std::string& text, int indent) {
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    fmt::print("{:{}}{}\n", "", indent, text.substr(start, end - start));
    start = end + 1;
  }
}

void PrintProcessor(const ProcessorType& type) {
  fmt::print("{}  ({})\n  {}\n\n", type.name, type.origin, type.doc.summary);
  if (!type.doc.description.empty()) {
    PrintIndented(type.doc.description, 2);
    fmt::print("\n");
  }
  fmt::print("  Input:  {}\n  Output: {}\n\n  Options:\n", type.doc.input, type.doc.output);
  PrintOptions(type.options, 4);
  fmt::print("\n  Example:\n");
  PrintIndented(type.doc.example, 4);
}

void PrintService(const ServiceType& type) {
  fmt::print("server type '{}'  ({})\n  {}\n\n", type.name, type.origin, type.doc.summary);
  if (!type.doc.description.empty()) {
    PrintIndented(type.doc.description, 2);
    fmt::print("\n");
  }
  fmt::print("  Options:\n");
  PrintOptions(type.options, 4);
  fmt::print("\n  Example:\n");
  PrintIndented(type.doc.example, 4);
}

}  // namespace

void AddProcessorsCommand(CLI::App& app, CommonFlags& common, int* exit_code) {
  auto* cmd = app.add_subcommand("processors", "List registered processors and server types, or describe one");
  auto name = std::make_shared<std::string>();
  cmd->add_option("name", *name, "Processor (or server type) to describe");
  cmd->callback([=, &common] {
    if (!LoadCommandPlugins(common)) {
      *exit_code = 1;
      return;
    }
    auto& registry = Registry::Instance();
    if (name->empty()) {
      fmt::print("Processors:\n");
      for (const auto& n : registry.ProcessorNames()) {
        const auto* t = registry.FindProcessor(n);
        fmt::print("  {:<20} {}{}\n", n, t->doc.summary, t->origin == "built-in" ? "" : " [" + t->origin + "]");
      }
      fmt::print("\nServer types (the `server:` section):\n");
      for (const auto& n : registry.ServiceNames()) {
        fmt::print("  {:<20} {}\n", n, registry.FindService(n)->doc.summary);
      }
      fmt::print("\n`voxpipe processors NAME` describes one.\n");
      return;
    }
    if (const auto* type = registry.FindProcessor(*name)) return PrintProcessor(*type);
    if (const auto* type = registry.FindService(*name)) return PrintService(*type);
    auto names = registry.ProcessorNames();
    auto services = registry.ServiceNames();
    names.insert(names.end(), services.begin(), services.end());
    fmt::print(stderr, "error: no processor or server type named '{}'{}\n", *name, DidYouMean(*name, names));
    *exit_code = 1;
  });
}

}  // namespace voxpipe::cli
