# Code-signs one file for the Tauri bundler (tauri.conf.json bundle.windows.signCommand
# calls it with the path of each binary and installer). The certificate comes from the
# environment, never from the repository:
#   WINDOWS_CERTIFICATE           base64 of a .pfx code-signing certificate
#   WINDOWS_CERTIFICATE_PASSWORD  its password
#   WINDOWS_TIMESTAMP_URL         RFC 3161 timestamp server (default DigiCert's)
# Without WINDOWS_CERTIFICATE the file is left unsigned with a warning (a developer's
# local build); the release workflow refuses to start without it.
param([Parameter(Mandatory = $true)][string]$File)
$ErrorActionPreference = 'Stop'
if (-not $env:WINDOWS_CERTIFICATE) {
  Write-Warning "WINDOWS_CERTIFICATE is not set: $File stays unsigned"
  exit 0
}
$pfx = Join-Path ([System.IO.Path]::GetTempPath()) ("sign-" + [guid]::NewGuid() + ".pfx")
try {
  [System.IO.File]::WriteAllBytes($pfx, [System.Convert]::FromBase64String($env:WINDOWS_CERTIFICATE))
  $ts = if ($env:WINDOWS_TIMESTAMP_URL) { $env:WINDOWS_TIMESTAMP_URL } else { 'http://timestamp.digicert.com' }
  $signtool = Get-ChildItem "${env:ProgramFiles(x86)}\Windows Kits\10\bin\*\x64\signtool.exe" |
    Sort-Object FullName -Descending | Select-Object -First 1
  if (-not $signtool) { throw 'signtool.exe not found (Windows SDK)' }
  & $signtool.FullName sign /fd sha256 /td sha256 /tr $ts /f $pfx /p $env:WINDOWS_CERTIFICATE_PASSWORD $File
  if ($LASTEXITCODE -ne 0) { throw "signtool failed for $File ($LASTEXITCODE)" }
} finally {
  Remove-Item -Force -ErrorAction SilentlyContinue $pfx
}
