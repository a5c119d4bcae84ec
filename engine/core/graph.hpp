#pragma once
// Dependency graph of resources: an edge a → b means "a depends on b" (b must exist first).
// Topological order by Kahn's algorithm with a deterministic (address-sorted) tie-break; a
// cycle is reported by naming it ("a.x -> b.y -> a.x").
#include <map>
#include <set>
#include <string>
#include <vector>

#include <kengine/core/resource.hpp>

namespace kengine::core {

class Graph {
public:
    /// Add a node (idempotent).
    void add_node(const std::string& node);
    /// `from` depends on `to`. Both become nodes.
    void add_edge(const std::string& from, const std::string& to);

    [[nodiscard]] const std::set<std::string>& dependencies(const std::string& node) const;
    [[nodiscard]] const std::set<std::string>& dependents(const std::string& node) const;
    [[nodiscard]] bool contains(const std::string& node) const { return m_deps.count(node) != 0; }
    [[nodiscard]] size_t size() const { return m_deps.size(); }

    /// Nodes with every dependency before its dependents. Throws kengine::ConfigError
    /// "dependency cycle: a -> b -> a" when there is a cycle.
    [[nodiscard]] std::vector<std::string> topological_order() const;

    /// One cycle as a path that starts and ends at the same node; empty if acyclic.
    [[nodiscard]] std::vector<std::string> find_cycle() const;

private:
    std::map<std::string, std::set<std::string>> m_deps;
    std::map<std::string, std::set<std::string>> m_rdeps;
};

/// Graph of desired resources: edges from references in props and from depends_on. A
/// reference to an address that is not desired is an error (ConfigError naming both).
Graph build_graph(const std::vector<ResourceSpec>& specs);

}  // namespace kengine::core
