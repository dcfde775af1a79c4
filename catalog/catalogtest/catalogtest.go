// Package catalogtest generates realistic catalogs for tests and benchmarks.
package catalogtest

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"

	"github.com/feedbatch/feedbatch/catalog"
)

var words = []string{
	"울", "스웨터", "니트", "가디건", "코튼", "셔츠", "데님", "팬츠", "네이비", "블랙", "그레이",
	"wool", "merino", "classic", "slim", "fit", "premium", "basic", "oversized", "crew-neck",
}

var sentences = []string{
	"부드러운 메리노 울 100%로 만든 데일리 니트입니다.",
	"Machine wash cold & tumble dry low; do not bleach.",
	"가볍고 따뜻하여 겨울철 이너로 활용하기 좋습니다.",
	"Relaxed fit with ribbed cuffs <b>and</b> hem for a clean look.",
	"모델 착용 사이즈는 M이며, 키 180cm 기준입니다.",
	"Imported. Fabric sourced from certified mills in Italy.",
	"세탁 시 뒤집어서 찬물에 단독 손세탁을 권장합니다.",
}

// Product is product i of a generated catalog shaped like a real shop's:
// Korean and English titles, ~600-byte descriptions with some markup, URLs,
// dictionary columns, valid GTINs, ~30% on sale, ~10% out of stock and ~1%
// without an image link (items a feed must drop). For the same i and the
// same sequence of r, it is the same product.
func Product(i int, r *rand.Rand) catalog.Product {
	var title strings.Builder
	fmt.Fprintf(&title, "[브랜드%d] ", i%500)
	for range 5 + r.IntN(4) {
		title.WriteString(words[r.IntN(len(words))])
		title.WriteByte(' ')
	}
	fmt.Fprintf(&title, "%d", i)
	var desc strings.Builder
	for desc.Len() < 600 {
		desc.WriteString(sentences[r.IntN(len(sentences))])
		desc.WriteByte(' ')
	}
	price := int64(10000 + 100*r.IntN(4900))
	p := catalog.Product{
		ID:          fmt.Sprintf("SKU-%07d", i),
		ItemGroupID: fmt.Sprintf("G-%06d", i/4),
		Title:       title.String(),
		Description: strings.TrimSpace(desc.String()),
		Link:        fmt.Sprintf("https://shop.example.com/products/%d?variant=%d&utm_source=feed", i/4, i),
		MobileLink:  fmt.Sprintf("https://m.shop.example.com/products/%d", i/4),
		ImageLink:   fmt.Sprintf("https://cdn.example.com/images/%d/main.jpg", i),
		AdditionalImageLinks: []string{
			fmt.Sprintf("https://cdn.example.com/images/%d/1.jpg", i),
			fmt.Sprintf("https://cdn.example.com/images/%d/2.jpg", i),
		},
		Price: price, Currency: "KRW", Availability: catalog.AvailabilityInStock,
		Condition: catalog.ConditionNew, Brand: fmt.Sprintf("브랜드%d", i%500),
		GTIN: gtin(880000000000 + int64(i)), MPN: fmt.Sprintf("MPN-%d", i),
		CategoryPath: "의류 > 남성 > 니트", ProductType: "212",
		ShippingCost: 3000, ShippingCountry: "KR", CustomLabel0: "winter",
	}
	if r.IntN(10) < 3 {
		p.SalePrice = price * 8 / 10
	}
	if r.IntN(10) == 0 {
		p.Availability = catalog.AvailabilityOutOfStock
	}
	if r.IntN(100) == 0 {
		p.ImageLink = "" // some invalid items to drop
	}
	return p
}

func gtin(n int64) string {
	s := fmt.Sprintf("%012d", n)
	sum := 0
	for i := 0; i < 12; i++ {
		d := int(s[11-i] - '0')
		if i%2 == 0 {
			d *= 3
		}
		sum += d
	}
	return s + strconv.Itoa((10-sum%10)%10)
}
