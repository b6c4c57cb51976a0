// Layout B (docs/adr/0001-layout.md): tauri.conf.json sits at the repository root next
// to the manifest, while capabilities live under src-tauri/.
fn main() {
    tauri_build::try_build(
        tauri_build::Attributes::new().capabilities_path_pattern("./src-tauri/capabilities/**/*"),
    )
    .expect("tauri-build failed");
}
