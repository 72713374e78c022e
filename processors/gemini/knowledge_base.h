// KnowledgeBase: the facts a phone assistant looks up (a tool with
// `handler: knowledge`), kept in a YAML file an operator edits without
// touching the prompt:
//
//   organisation:                 # facts given with every answer
//     name: Sutherland General Hospital
//     main_number: "+1 555 0100 000"
//   topics:
//     - topic: visiting hours
//       keywords: [visit, visiting, visitors]
//       answer: General wards welcome visitors from 9 am to 8 pm every day.
//   departments:
//     - name: Emergency Department
//       aliases: [emergency, ER, A&E]
//       location: Ground floor, east entrance
//       hours: Open 24 hours
//       extension: "2100"
//
// Lookup scores each entry by the words of the model's query (keywords and
// names count most, a word of the answer a little) and returns the best few;
// nothing found says so, so the model offers a message instead of guessing.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "framework/options.h"

namespace voxpipe {

struct KnowledgeTopic {
  std::string topic;
  std::vector<std::string> keywords;
  std::string answer;
  static void Declare(Schema<KnowledgeTopic>& s);
};

struct KnowledgeDepartment {
  std::string name;
  std::vector<std::string> aliases;
  std::string location;
  std::string hours;
  std::string extension;
  std::string notes;
  static void Declare(Schema<KnowledgeDepartment>& s);
};

struct KnowledgeFile {
  std::map<std::string, std::string> organisation;
  std::vector<KnowledgeTopic> topics;
  std::vector<KnowledgeDepartment> departments;
  static void Declare(Schema<KnowledgeFile>& s);
};

class KnowledgeBase {
 public:
  static constexpr size_t kMaxResults = 3;

  // Errors name the file, line and field.
  static Result<std::shared_ptr<const KnowledgeBase>> Load(const std::string& path);
  static Result<std::shared_ptr<const KnowledgeBase>> Parse(std::string_view yaml, const std::string& name);

  // {"results": [{"topic": ..., "answer": ...} | {"department": ..., "location": ...}], "organisation": {...}}
  nlohmann::json Lookup(std::string_view query) const;

  size_t entries() const { return file_.topics.size() + file_.departments.size(); }

 private:
  explicit KnowledgeBase(KnowledgeFile file);
  KnowledgeFile file_;
  // Per entry (topics first, then departments): its name words and keywords, and its other words.
  std::vector<std::vector<std::string>> keys_;
  std::vector<std::vector<std::string>> words_;
};

}  // namespace voxpipe
