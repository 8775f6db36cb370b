// Runs uni's CLI with DCloud's online update check turned off: that check (skipped when CI is set)
// posts to a DCloud server, and our builds must work with no network but the package registry.
process.env.CI = process.env.CI || 'true';
require('@dcloudio/vite-plugin-uni/bin/uni.js');
