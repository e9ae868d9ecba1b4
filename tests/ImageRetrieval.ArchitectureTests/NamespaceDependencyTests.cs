using System.Reflection;
using NetArchTest.Rules;

namespace ImageRetrieval.ArchitectureTests;

/// <summary>
/// The boundaries at namespace level: who may use what, checked on the compiled types (a using that the
/// compiler keeps, a field, a parameter, a call), not on project references alone.
/// </summary>
public sealed class NamespaceDependencyTests
{
    private static readonly string[] Modules = ["Embedding", "Ingesting", "Retrieval"];

    public static TheoryData<string> ModuleNames => new(Modules);

    private static Assembly Implementation(string module) => Assembly.Load($"ImageRetrieval.{module}");

    private static Assembly Host => typeof(Program).Assembly;

    /// <summary>The entry point a composition root may call: <c>AddXxx</c> and <c>MapXxxApi</c>.</summary>
    private static string EntryPoint(string module) => $"ImageRetrieval.{module}.{module}Module";

    /// <summary>
    /// Everything of a module's implementation but its entry point: each namespace below the module's own,
    /// and each type in the module's root namespace (so a prefix match on "ImageRetrieval.Ingesting" does not
    /// also forbid "ImageRetrieval.Ingesting.Contracts").
    /// </summary>
    private static string[] Internals(string module)
    {
        var root = $"ImageRetrieval.{module}";
        var types = Implementation(module).GetTypes().Where(t => t.Namespace?.StartsWith(root, StringComparison.Ordinal) == true).ToList();
        var below = types.Select(t => t.Namespace!).Where(n => n != root).Distinct();
        var rootTypes = types.Where(t => t.Namespace == root && !t.IsNested && t.FullName != EntryPoint(module) && !t.Name.StartsWith('<'))
            .Select(t => t.FullName!);
        return [.. below, .. rootTypes];
    }

    private static void AssertSuccess(TestResult result, string rule) =>
        Assert.True(result.IsSuccessful, $"{rule}: {string.Join(", ", result.FailingTypeNames ?? [])}");

    [Theory]
    [MemberData(nameof(ModuleNames))]
    public void Given_the_host_Then_it_uses_a_module_only_through_its_contracts_and_its_entry_point(string module)
    {
        // The source-generated mediator lives in the Host and must name every handler; it is the one exception.
        var result = Types.InAssembly(Host)
            .That().DoNotResideInNamespace("Mediator")
            .And().DoNotResideInNamespace("Microsoft.Extensions.DependencyInjection")
            .ShouldNot().HaveDependencyOnAny(Internals(module))
            .GetResult();
        AssertSuccess(result, $"Host types that use {module} internals");
    }

    [Theory]
    [MemberData(nameof(ModuleNames))]
    public void Given_a_module_Then_it_uses_no_other_modules_implementation_not_even_its_entry_point(string module)
    {
        var forbidden = Modules.Where(m => m != module).SelectMany(m => Internals(m).Append(EntryPoint(m))).ToArray();
        var result = Types.InAssembly(Implementation(module)).ShouldNot().HaveDependencyOnAny(forbidden).GetResult();
        AssertSuccess(result, $"{module} types that use another module's implementation");
    }

    [Theory]
    [MemberData(nameof(ModuleNames))]
    public void Given_a_module_Then_it_uses_no_adapter_only_the_ports(string module)
    {
        var result = Types.InAssembly(Implementation(module))
            .ShouldNot().HaveDependencyOnAny("ImageRetrieval.Infrastructure.Adapters", "ImageRetrieval.Infrastructure.VectorStores", "ImageRetrieval.Infrastructure.BlobStores")
            .GetResult();
        AssertSuccess(result, $"{module} types that use an adapter");
    }

    [Theory]
    [InlineData("Embedding")]
    [InlineData("Retrieval")]
    public void Given_a_module_that_does_not_own_the_catalogue_Then_it_never_touches_the_stores(string module)
    {
        // Ingesting owns the catalogue; search asks it (FindNearestImages, GetImageVectors) instead of querying the
        // stores itself. The shared settings (ServiceOptions) live in the SharedKernel, so nothing of the ports is needed.
        var result = Types.InAssembly(Implementation(module))
            .ShouldNot().HaveDependencyOnAny("ImageRetrieval.Infrastructure.Abstractions")
            .GetResult();
        AssertSuccess(result, $"{module} types that use the store ports");
    }

    [Fact]
    public void Given_the_ports_Then_they_depend_on_no_web_framework_resilience_library_or_module()
    {
        var abstractions = Assembly.Load("ImageRetrieval.Infrastructure.Abstractions");
        var result = Types.InAssembly(abstractions)
            .ShouldNot().HaveDependencyOnAny(
                "Microsoft.AspNetCore", "Microsoft.Extensions.Http", "Microsoft.Extensions.Diagnostics", "Polly", "ImageRetrieval.SharedKernel", "ImageRetrieval.Embedding", "ImageRetrieval.Ingesting", "ImageRetrieval.Retrieval")
            .GetResult();
        AssertSuccess(result, "Abstractions types that use ASP.NET Core, Polly or a module");
        Assert.DoesNotContain(abstractions.GetReferencedAssemblies(), a => a.Name!.StartsWith("Microsoft.AspNetCore", StringComparison.Ordinal) || a.Name!.StartsWith("Polly", StringComparison.Ordinal));
    }

    [Theory]
    [MemberData(nameof(ModuleNames))]
    public void Given_a_modules_implementation_Then_its_only_public_type_is_its_entry_point(string module)
    {
        var exported = Implementation(module).GetExportedTypes().Select(t => t.FullName).ToList();
        Assert.Equal([EntryPoint(module)], exported);
    }

    [Fact]
    public void Given_any_endpoint_class_Then_it_is_static()
    {
        var assemblies = Modules.Select(Implementation).Append(Host).ToArray();
        var result = Types.InAssemblies(assemblies)
            .That().HaveNameEndingWith("Endpoint").Or().HaveNameEndingWith("Endpoints")
            .Should().BeStatic()
            .GetResult();
        AssertSuccess(result, "endpoint classes that are not static");
        Assert.NotEmpty(Types.InAssemblies(assemblies).That().HaveNameEndingWith("Endpoint").GetTypes());
    }
}
