// The I/O floor of a `geoprospect run`: read every layer window by window exactly as the runner
// does (full-width windows of whole output-tile rows, GDAL_NUM_THREADS, block cache flushed after
// each window), and write one Float32 band with the runner's codec (tiled 256 x 256, ZSTD level 1,
// PREDICTOR=3, NUM_THREADS) tile by tile with WriteBlock. No arithmetic: the band written is the
// first layer's window, as read (nodata and all), so it compresses like a real map.
//
// Built by bench/io_floor.sh:  g++ -O2 $(gdal-config --cflags) io_floor.cpp $(gdal-config --libs)
//
// Usage: io_floor [--mode both|read|write] [--window-rows N] [--threads N] [--cache-mib N]
//                 [--compress ZSTD|DEFLATE|NONE] OUT.tif LAYER.tif...
//   --mode read  : reads only (OUT.tif is not created; pass any name)
//   --mode write : writes only: one window of layer 1 is read once, then written for every window
// Prints one line: "mode=... read_s=... write_s=... total_s=... cells=...".
#include <gdal_priv.h>
#include <cpl_conv.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {
double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
[[noreturn]] void die(const std::string& m) {
  std::fprintf(stderr, "io_floor: %s\n", m.c_str());
  std::exit(1);
}
}  // namespace

int main(int argc, char** argv) {
  std::string mode = "both", compress = "ZSTD";
  long window_rows = 0;  // 0: like the runner, whole tile rows of about 2 Mi cells
  int threads = 0, cache_mib = 96;
  std::vector<std::string> pos;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) die("missing value after " + a);
      return argv[++i];
    };
    if (a == "--mode") mode = next();
    else if (a == "--window-rows") window_rows = std::stol(next());
    else if (a == "--threads") threads = std::stoi(next());
    else if (a == "--cache-mib") cache_mib = std::stoi(next());
    else if (a == "--compress") compress = next();
    else pos.push_back(a);
  }
  if (pos.size() < 2) die("usage: io_floor [options] OUT.tif LAYER.tif...");
  const bool do_read = mode == "both" || mode == "read";
  const bool do_write = mode == "both" || mode == "write";

  GDALAllRegister();
  GDALSetCacheMax64(static_cast<GIntBig>(cache_mib) * 1024 * 1024);
  const std::string nthreads = threads > 0 ? std::to_string(threads) : "ALL_CPUS";
  CPLSetConfigOption("GDAL_NUM_THREADS", nthreads.c_str());

  std::vector<GDALDataset*> in;
  for (std::size_t i = 1; i < pos.size(); ++i) {
    auto* ds = static_cast<GDALDataset*>(GDALOpen(pos[i].c_str(), GA_ReadOnly));
    if (ds == nullptr) die("cannot open " + pos[i]);
    in.push_back(ds);
  }
  const int W = in[0]->GetRasterXSize(), H = in[0]->GetRasterYSize();
  const int tile = 256;
  if (window_rows <= 0) {
    const long rows = (1L << 21) / W;  // the runner's --window-cells default, 2 Mi cells
    window_rows = std::max<long>(tile, rows / tile * tile);
  }
  const std::size_t win = static_cast<std::size_t>(window_rows) * W;
  std::vector<std::vector<float>> buf(in.size(), std::vector<float>(win));

  GDALDataset* out = nullptr;
  if (do_write) {
    CPLStringList co;
    co.SetNameValue("TILED", "YES");
    co.SetNameValue("BLOCKXSIZE", "256");
    co.SetNameValue("BLOCKYSIZE", "256");
    co.SetNameValue("BIGTIFF", "IF_SAFER");
    co.SetNameValue("COMPRESS", compress.c_str());
    if (compress == "ZSTD") co.SetNameValue("ZSTD_LEVEL", "1");
    if (compress == "DEFLATE") co.SetNameValue("ZLEVEL", "1");
    if (compress != "NONE") co.SetNameValue("PREDICTOR", "3");
    co.SetNameValue("NUM_THREADS", nthreads.c_str());
    out = GetGDALDriverManager()->GetDriverByName("GTiff")->Create(pos[0].c_str(), W, H, 1,
                                                                      GDT_Float32, co.List());
    if (out == nullptr) die("cannot create " + pos[0]);
    out->SetGeoTransform([&] {
      static double gt[6];
      in[0]->GetGeoTransform(gt);
      return gt;
    }());
    out->SetProjection(in[0]->GetProjectionRef());
    out->GetRasterBand(1)->SetNoDataValue(-9999.0);
  }
  if (!do_read) {  // write-only: one window of layer 1, written everywhere
    const int rows = static_cast<int>(std::min<long>(window_rows, H));
    if (in[0]->GetRasterBand(1)->RasterIO(GF_Read, 0, 0, W, rows, buf[0].data(), W, rows,
                                          GDT_Float32, 0, 0, nullptr) != CE_None)
      die("read failed");
    in[0]->GetRasterBand(1)->FlushCache(false);
  }

  std::vector<float> tilebuf(static_cast<std::size_t>(tile) * tile);
  double t_read = 0, t_write = 0;
  const double t0 = now();
  int tile_row = 0;
  for (long r0 = 0; r0 < H; r0 += window_rows) {
    const int rows = static_cast<int>(std::min<long>(window_rows, H - r0));
    double t = now();
    if (do_read) {
      for (std::size_t l = 0; l < in.size(); ++l) {
        GDALRasterBand* b = in[l]->GetRasterBand(1);
        if (b->RasterIO(GF_Read, 0, static_cast<int>(r0), W, rows, buf[l].data(), W, rows,
                        GDT_Float32, 0, 0, nullptr) != CE_None)
          die("read failed");
        b->FlushCache(false);  // as RasterSource::read_direct
      }
    }
    t_read += now() - t;
    t = now();
    if (do_write) {
      GDALRasterBand* ob = out->GetRasterBand(1);
      const float* src = buf[0].data();
      for (int tr = 0; tr * tile < rows; ++tr, ++tile_row) {
        const int nr = std::min(tile, rows - tr * tile);
        for (int tx = 0; tx * tile < W; ++tx) {
          const int c0 = tx * tile, nc = std::min(tile, W - c0);
          std::fill(tilebuf.begin(), tilebuf.end(), -9999.0f);
          for (int r = 0; r < nr; ++r)
            std::memcpy(tilebuf.data() + static_cast<std::size_t>(r) * tile,
                        src + static_cast<std::size_t>(tr * tile + r) * W + c0,
                        static_cast<std::size_t>(nc) * sizeof(float));
          if (ob->WriteBlock(tx, tile_row, tilebuf.data()) != CE_None) die("write failed");
        }
      }
    }
    t_write += now() - t;
  }
  double t = now();
  if (out != nullptr) GDALClose(out);
  t_write += now() - t;
  for (auto* ds : in) GDALClose(ds);
  std::printf("mode=%s read_s=%.3f write_s=%.3f total_s=%.3f cells=%lld window_rows=%ld\n",
              mode.c_str(), t_read, t_write, now() - t0, static_cast<long long>(W) * H,
              window_rows);
  return 0;
}
