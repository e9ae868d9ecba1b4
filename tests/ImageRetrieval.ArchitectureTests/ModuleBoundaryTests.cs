using System.Reflection;
using NetArchTest.Rules;

namespace ImageRetrieval.ArchitectureTests;

public sealed class ModuleBoundaryTests
{
    private static readonly string[] Modules = ["Embedding", "Ingesting", "Retrieval"];

    public static TheoryData<string> ModuleNames => new(Modules);

    private static Assembly Implementation(string module) => Assembly.Load($"ImageRetrieval.{module}");

    private static Assembly Contracts(string module) => Assembly.Load($"ImageRetrieval.{module}.Contracts");

    [Theory]
    [MemberData(nameof(ModuleNames))]
    public void Given_a_module_Then_it_never_references_another_modules_implementation(string module)
    {
        // Only the .Contracts assemblies of other modules may be referenced; the compiler records every reference.
        var referenced = Implementation(module).GetReferencedAssemblies().Select(a => a.Name!).ToList();
        foreach (var other in Modules.Where(m => m != module))
        {
            Assert.DoesNotContain($"ImageRetrieval.{other}", referenced);
        }
    }

    [Theory]
    [MemberData(nameof(ModuleNames))]
    public void Given_a_modules_contracts_Then_they_depend_on_no_implementation_or_infrastructure(string module)
    {
        var referenced = Contracts(module).GetReferencedAssemblies().Select(a => a.Name!).ToList();
        Assert.DoesNotContain(referenced, name => Modules.Any(m => name == $"ImageRetrieval.{m}") || name.StartsWith("ImageRetrieval.Infrastructure", StringComparison.Ordinal));
    }

    [Theory]
    [MemberData(nameof(ModuleNames))]
    public void Given_a_module_Then_its_handlers_and_validators_are_internal_and_sealed(string module)
    {
        var handlers = Types.InAssembly(Implementation(module))
            .That().HaveNameEndingWith("Handler").Or().HaveNameEndingWith("Validator")
            .GetTypes().ToList();
        Assert.NotEmpty(handlers);
        Assert.All(handlers, t => Assert.True(t.IsNotPublic && t.IsSealed, $"{t.FullName} should be internal sealed"));
    }

    [Fact]
    public void Given_the_infrastructure_Then_it_does_not_depend_on_any_module()
    {
        foreach (var name in new[] { "ImageRetrieval.Infrastructure.Abstractions", "ImageRetrieval.Infrastructure.Adapters", "ImageRetrieval.Infrastructure.VectorStores", "ImageRetrieval.Infrastructure.BlobStores", "ImageRetrieval.Infrastructure.Onnx" })
        {
            var referenced = Assembly.Load(name).GetReferencedAssemblies().Select(a => a.Name!).ToList();
            Assert.DoesNotContain(referenced, r => Modules.Any(m => r.StartsWith($"ImageRetrieval.{m}", StringComparison.Ordinal)));
        }
    }
}
