#!/usr/bin/env bash
# Package smoke test (issue 16): packs the two library packages into a local folder and installs
# them into a fresh console app, created in a temporary directory, which builds and runs a loop
# under the Generic Host runner. It also checks that exactly the two libraries are packable, so
# `dotnet pack -c Release` at the root yields Aio and Aio.Extensions.Hosting and nothing else.
#
# The app's nuget.config lives in the temporary directory and ADDS the local folder to the machine's
# package sources (it does not clear them: the packages' dependencies come from there), with a
# package cache of its own, so an Aio package of the same version cached by an earlier run is never
# used; the machine's cache serves the dependencies as a read-only fallback folder.
# Usage: eng/package-smoke.sh   (exits non-zero on any failure; takes about a minute)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# 1. Exactly the two libraries are packable (an evaluation, no build).
packable=()
while read -r project; do
  if [ "$(dotnet msbuild "$project" -getProperty:IsPackable -nologo)" = "true" ]; then
    packable+=("$(basename "$project" .csproj)")
  fi
done < <(sed -n 's/.*<Project Path="\([^"]*\)".*/\1/p' Aio.slnx)
if [ "${packable[*]}" != "Aio Aio.Extensions.Hosting" ]; then
  echo "package smoke FAILED: packable projects are '${packable[*]}', expected 'Aio Aio.Extensions.Hosting'" >&2
  exit 1
fi

# 2. Pack both, with symbols, into the local folder.
# (Packing the hosting package builds Aio first; the second pack finds it up to date.)
for project in src/Aio/Aio.csproj src/Aio.Extensions.Hosting/Aio.Extensions.Hosting.csproj; do
  dotnet pack "$project" -c Release -o "$work/packages" -nologo -v q >"$work/pack.log" 2>&1 || { cat "$work/pack.log" >&2; exit 1; }
done
echo "package smoke: packed in $SECONDS s" >&2
version=$(dotnet msbuild src/Aio/Aio.csproj -getProperty:Version -nologo)
for id in Aio Aio.Extensions.Hosting; do
  for ext in nupkg snupkg; do
    [ -f "$work/packages/$id.$version.$ext" ] || { echo "package smoke FAILED: $id.$version.$ext missing" >&2; ls "$work/packages" >&2; exit 1; }
  done
  nuspec=$(unzip -p "$work/packages/$id.$version.nupkg" "$id.nuspec")
  for field in '<license type="expression">MIT</license>' '<readme>README.md</readme>' '<description>' '<tags>'; do
    grep -qF "$field" <<<"$nuspec" || { echo "package smoke FAILED: $id.nuspec lacks $field" >&2; exit 1; }
  done
done

# 3. A fresh console app outside the repository, installing the packages from the local folder.
mkdir -p "$work/app"
machine_cache=$(dotnet nuget locals global-packages --list | sed 's/^global-packages: //')
cat >"$work/nuget.config" <<XML
<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <config>
    <add key="globalPackagesFolder" value="$work/package-cache" />
  </config>
  <fallbackPackageFolders>
    <add key="machine-cache" value="$machine_cache" />
  </fallbackPackageFolders>
  <packageSources>
    <add key="aio-local" value="$work/packages" />
  </packageSources>
</configuration>
XML
cd "$work/app"
dotnet new console --framework net10.0 --name SmokeApp --output . >/dev/null
dotnet add package Aio --version "$version" --no-restore >"$work/add.log" 2>&1 || { cat "$work/add.log" >&2; exit 1; }
dotnet add package Aio.Extensions.Hosting --version "$version" --no-restore >"$work/add.log" 2>&1 || { cat "$work/add.log" >&2; exit 1; }
# The Microsoft.Extensions.* version the packages were built against (one 10.0.x for all).
hosting=$(sed -n 's/.*"Microsoft.Extensions.Hosting.Abstractions" Version="\([^"]*\)".*/\1/p' "$repo/src/Aio.Extensions.Hosting/Aio.Extensions.Hosting.csproj")
dotnet add package Microsoft.Extensions.Hosting --version "$hosting" --no-restore >"$work/add.log" 2>&1 || { cat "$work/add.log" >&2; exit 1; }
cat >Program.cs <<'CS'
using Aio;
using Aio.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

// A plain loop.
using (var loop = new EventLoop())
{
    int answer = loop.RunUntilComplete(async () =>
    {
        await LoopTask.Sleep(TimeSpan.FromMilliseconds(10));
        return 42;
    });
    Console.WriteLine($"loop answered {answer}");
}

// The Generic Host runner: main runs on the loop; when it completes the host stops.
HostApplicationBuilder builder = Host.CreateApplicationBuilder(args);
builder.Logging.SetMinimumLevel(LogLevel.Warning);
builder.Services.AddEventLoopRunner(async _ =>
{
    await LoopTask.Sleep(TimeSpan.FromMilliseconds(10));
    Console.WriteLine($"host main ran on {(EventLoop.GetRunningLoop().IsRunning ? "the loop" : "nothing")}");
}, options => options.StopWhenMainCompletes = true);
await builder.Build().RunAsync();
return Environment.ExitCode;
CS
# One restore (Aio from the local folder), build and run.
output=$(dotnet run -c Release 2>&1) || { echo "package smoke FAILED: the app failed:" >&2; echo "$output" >&2; exit 1; }
for line in "loop answered 42" "host main ran on the loop"; do
  grep -qF "$line" <<<"$output" || { echo "package smoke FAILED: the app did not print '$line':" >&2; echo "$output" >&2; exit 1; }
done
echo "package smoke: ok ($version: Aio, Aio.Extensions.Hosting; .nupkg and .snupkg; installed and run from a local folder)"
