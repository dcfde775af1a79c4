package notify

import (
	"context"
	"fmt"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
)

// publisher is the part of the SNS client SNS uses.
type publisher interface {
	Publish(ctx context.Context, in *sns.PublishInput, opts ...func(*sns.Options)) (*sns.PublishOutput, error)
}

// SNS publishes messages to an SNS topic (e-mail subscribers get Subject as
// the mail's subject). The SDK client retries throttling and 5xx itself.
type SNS struct {
	Client   publisher
	TopicARN string
}

// NewSNS returns an SNS sender for topicARN.
func NewSNS(client *sns.Client, topicARN string) *SNS {
	return &SNS{Client: client, TopicARN: topicARN}
}

// maxSubject is SNS's limit on Subject: 100 characters, ASCII only.
const maxSubject = 100

// Send implements Sender.
func (s *SNS) Send(ctx context.Context, m Message) error {
	msg := m.Text()
	// SNS takes at most 256 KiB; the text is far smaller, but a pathological
	// reason list must not fail the whole notification.
	const maxMessage = 250 << 10
	if len(msg) > maxMessage {
		msg = msg[:maxMessage]
		for !utf8.ValidString(msg) {
			msg = msg[:len(msg)-1]
		}
	}
	_, err := s.Client.Publish(ctx, &sns.PublishInput{
		TopicArn: aws.String(s.TopicARN),
		Subject:  aws.String(subject(m.Subject())),
		Message:  aws.String(msg),
	})
	if err != nil {
		return fmt.Errorf("notify: sns publish to %s: %w", s.TopicARN, err)
	}
	return nil
}

// subject makes s a valid SNS subject: printable ASCII, no line breaks, at
// most 100 characters.
func subject(s string) string {
	b := make([]byte, 0, len(s))
	for _, r := range s {
		if len(b) == maxSubject {
			break
		}
		if r < 0x20 || r > 0x7e {
			r = '?'
		}
		b = append(b, byte(r))
	}
	return string(b)
}
