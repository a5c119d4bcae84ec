#pragma once
// Dependency graph of resources: an edge a → b means "a depends on b" (b must exist first).
// Topological order by Kahn's algorithm (Kahn 1962, "Topological sorting of large networks")
// with a deterministic (address-sorted) tie-break; a cycle is reported by naming it
// ("a.x -> b.y -> a.x").
//
// Nodes are stored once, by index; edges are index lists. Memory is O(nodes + edges) with one
// copy of each address, so 100k-resource profiles stay cheap.
#include <functional>
#include <string>
#include <unordered_map>
#include <vector>

#include <kengine/core/resource.hpp>

namespace kengine::core {

class Graph {
public:
    /// Add a node (idempotent).
    void add_node(const std::string& node);
    /// `from` depends on `to` (idempotent). Both become nodes.
    void add_edge(const std::string& from, const std::string& to);

    /// The nodes `node` depends on, sorted by address; empty for an unknown node.
    [[nodiscard]] std::vector<std::string> dependencies(const std::string& node) const;
    /// The nodes that depend on `node`, sorted by address; empty for an unknown node.
    [[nodiscard]] std::vector<std::string> dependents(const std::string& node) const;
    [[nodiscard]] bool contains(const std::string& node) const { return m_index.count(node) != 0; }
    [[nodiscard]] size_t size() const { return m_names.size(); }

    /// Nodes with every dependency before its dependents; among nodes that are ready at the
    /// same time, the smallest address first. Throws kengine::ConfigError
    /// "dependency cycle: a -> b -> a" when there is a cycle.
    [[nodiscard]] std::vector<std::string> topological_order() const;

    /// One cycle as a path that starts and ends at the same node; empty if acyclic.
    [[nodiscard]] std::vector<std::string> find_cycle() const;

private:
    size_t intern(const std::string& node);
    [[nodiscard]] std::vector<std::string> names_of(const std::vector<size_t>& nodes) const;

    std::unordered_map<std::string, size_t> m_index;  ///< address → node
    std::vector<const std::string*> m_names;          ///< node → address (a key of m_index)
    std::vector<std::vector<size_t>> m_deps;          ///< node → nodes it depends on
    std::vector<std::vector<size_t>> m_rdeps;         ///< node → nodes depending on it
};

/// Graph of desired resources: edges from references in props and from depends_on. A
/// reference to an address that is not desired is an error (ConfigError naming both).
Graph build_graph(const std::vector<ResourceSpec>& specs);
/// The same, calling `visit(spec, props)` for each spec in order with its props decoded (a
/// caller that reads every spec's props — validation, render — then decodes them once).
/// Exceptions from `visit` propagate.
Graph build_graph(const std::vector<ResourceSpec>& specs, const std::function<void(const ResourceSpec&, const Json&)>& visit);

}  // namespace kengine::core
