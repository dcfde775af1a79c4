// sharp side of bench/image.sh: the same job as the image stage (fit inside
// WxH, centred on a white background, JPEG quality Q, 4:2:0), on every file
// given, `concurrency` images at once.
//
//	node image_sharp.mjs OUTDIR CONCURRENCY FILE...
import sharp from 'sharp';
import { basename, extname, join } from 'node:path';

const [outDir, conc, ...files] = process.argv.slice(2);
sharp.concurrency(1); // libvips threads per image: parallelism comes from images in flight
sharp.cache(false);
let next = 0;
async function worker() {
  while (next < files.length) {
    const f = files[next++];
    await sharp(f)
      .rotate() // EXIF orientation, as the stage does
      .resize(800, 800, { fit: 'contain', background: { r: 255, g: 255, b: 255, alpha: 1 } })
      .flatten({ background: '#ffffff' })
      .jpeg({ quality: 85 })
      .toFile(join(outDir, basename(f, extname(f)) + '.jpg'));
  }
}
await Promise.all(Array.from({ length: Number(conc) }, worker));
console.log(JSON.stringify({ images: files.length, libvips: sharp.versions.vips, sharp: sharp.versions.sharp }));
